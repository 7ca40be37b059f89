"""The safety measurements on the shared real data sets, with the default models.

Run:  .venv/bin/python bench/safety.py [--only faithfulness,stereotypes,bias]
          [--supports lexical,embedding,fragments,combined] [--crows-limit N]
          [--bold-domains gender,race] [--bold-limit 10] [--threads 1] [--model smollm2]

- faithfulness: FRANK test split (1,575 system summaries), each support checker, partial
  correlation with human Factuality controlling for the system, beside the published metrics
  (computed in the same run from FRANK's own files).
- stereotypes: CrowS-Pairs (all 1,508 pairs unless --crows-limit), both scorings.
- bias: BOLD, --bold-limit prompts per group (seeded), sentiment (proxy for regard) and
  toxicity per group.

Each evaluation writes ``bench/results/safety_<name>.{json,png,md}``; ``safety.json`` and
``safety.md`` gather the headline figures with the CPU, the load (``uptime``) before and after
each step and the exact command. Timings on a shared machine are noisy; the figures are not
timings and do not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, RESULTS, machine
from ponder.safety.plots import (
    bias_panels,
    faithfulness_panels,
    stereotype_panels,
    write_outputs,
)

NOTES = """\
The machine was shared with other work while these ran (load averages of 15 to 29 on 2 cores
were seen); each evaluation's JSON records the load before and after it (`bench`) where the
run recorded it. The figures below are not timings and do not depend on the load; the
`seconds` fields do.
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def stamp(path: Path, before: str) -> None:
    """Record the CPU and the load (1, 5, 15 min) before and after in the evaluation's JSON."""
    d = json.loads(path.read_text())
    d["bench"] = {"cpu": machine()["cpu"], "cores": os.cpu_count(), "load_before": before,
                  "load_after": load(), "command": "python bench/safety.py "
                  + shlex.join(sys.argv[1:])}
    path.write_text(json.dumps(d, indent=2, ensure_ascii=False) + "\n")


def faithfulness(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    from ponder.safety.faithfulness import faithfulness_report, load_frank

    items = load_frank(DATASETS / "frank_summarization", "test")
    summary.pop("faithfulness", None)
    emb = None
    for support in args.supports.split(","):
        before = load()
        if support in ("embedding", "combined") and emb is None:
            from ponder.embed import load_embedder
            from ponder.safety.faithfulness import CachedEmbedder

            emb = CachedEmbedder(load_embedder("minilm"))  # shared: sentences embedded once
        r = faithfulness_report(None, items=items, support=support,  # type: ignore[arg-type]
                                embedder=emb)
        files = write_outputs(r, RESULTS, f"safety_faithfulness_{support}", faithfulness_panels,
                              details=False)
        stamp(files.json, before)
        summary.setdefault("faithfulness", {})[support] = {
            "marks_partial_pearson": r.checker.to_dict(),
            "score_partial_pearson": r.checker_raw.to_dict(),
            "per_dataset": {k: v.to_dict() for k, v in r.per_dataset.items()},
            "goal_met_by_marks": r.goal_met,
            "seconds": round(r.seconds, 1), "load_before": before, "load_after": load(),
            "files": files.to_dict(),
        }
        summary["faithfulness_baselines"] = [b.to_dict() for b in r.baselines]
        print(f"faithfulness {support}: marks {r.checker.pearson:.3f}, "
              f"score {r.checker_raw.pearson:.3f} ({r.seconds:.0f} s)", flush=True)
        save(summary)


def stereotypes(args: argparse.Namespace, summary: dict[str, Any], gen: Any) -> None:
    from ponder.safety.stereotypes import load_crows_pairs, stereotype_report

    pairs = load_crows_pairs(DATASETS / "crows_pairs")
    for scoring in ("shared", "whole"):
        before = load()
        r = stereotype_report(pairs=pairs, generator=gen, scoring=scoring,
                              limit=args.crows_limit)
        files = write_outputs(r, RESULTS, f"safety_stereotypes_{scoring}", stereotype_panels,
                              details=False)
        stamp(files.json, before)
        summary.setdefault("stereotypes", {})[scoring] = {
            "overall": r.overall.to_dict(),
            "per_bias_type": [t.to_dict() for t in r.per_type],
            "seconds": round(r.seconds, 1), "load_before": before, "load_after": load(),
            "files": files.to_dict(),
        }
        print(f"stereotypes {scoring}: {r.overall.share} of {r.overall.decided} decided "
              f"({r.seconds:.0f} s)", flush=True)
        save(summary)


def bias(args: argparse.Namespace, summary: dict[str, Any], gen: Any) -> None:
    from ponder.safety.bias import bias_report

    for domain in args.bold_domains.split(","):
        before = load()
        r = bias_report(DATASETS / "bold", domain, generator=gen,
                        limit_per_group=args.bold_limit, max_new_tokens=args.bold_tokens)
        files = write_outputs(r, RESULTS, f"safety_bias_{domain}", bias_panels,
                              title=f"BOLD {domain}: {r.model}")
        stamp(files.json, before)
        summary.setdefault("bias", {})[domain] = {
            **{k: v for k, v in r.to_dict().items() if k in ("metrics", "empty_continuations",
                                                               "prompts_per_group", "scorers")},
            "seconds": round(r.seconds, 1), "load_before": before, "load_after": load(),
            "files": files.to_dict(),
        }
        print(f"bias {domain}: {r.metrics()} ({r.seconds:.0f} s)", flush=True)
        save(summary)


def save(summary: dict[str, Any]) -> None:
    """Write ``safety.json``/``.md``, merged with what another run wrote meanwhile (sections
    this run measured replace theirs; the others are kept)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "safety.json"
    merged: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    mine = summary.get("runs", [])[-1:]
    runs = [r for r in merged.get("runs", []) if r not in mine]
    merged.update({k: v for k, v in summary.items() if k != "runs"})
    merged["runs"] = [*runs, *mine]
    path.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    (RESULTS / "safety.md").write_text(markdown(merged))


def collect() -> dict[str, Any]:
    """Rebuild the summary's sections from the per-evaluation files ``safety_*.json`` (what
    each evaluation wrote itself), keeping the runs recorded in ``safety.json``."""
    path = RESULTS / "safety.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    out: dict[str, Any] = {"runs": old.get("runs", [])}
    for f in sorted(RESULTS.glob("safety_*.json")):
        d = json.loads(f.read_text())
        kind, _, name = f.stem.removeprefix("safety_").partition("_")
        files = {"json": str(f), "png": str(f.with_suffix(".png")), "markdown":
                 str(f.with_suffix(".md")), "bench": d.get("bench", "load not recorded")}
        if kind == "faithfulness":
            out.setdefault("faithfulness", {})[name] = {
                "marks_partial_pearson": d["checker"], "score_partial_pearson":
                d["checker_raw_score"], "per_dataset": d["per_dataset"],
                "goal_met_by_marks": d["goal"]["met"], "seconds": d["seconds"], "files": files}
            out["faithfulness_baselines"] = d["baselines"]
        elif kind == "stereotypes":
            out.setdefault("stereotypes", {})[name] = {
                "overall": d["overall"], "per_bias_type": d["per_bias_type"],
                "seconds": d["seconds"], "files": files}
        elif kind == "bias":
            out.setdefault("bias", {})[name] = {
                **{k: d[k] for k in ("metrics", "empty_continuations", "prompts_per_group",
                                     "scorers")}, "seconds": d["seconds"], "files": files}
    return out


def markdown(s: dict[str, Any]) -> str:
    lines = ["# Safety measurements\n", NOTES]
    for r in s.get("runs", []):
        m = r["machine"]
        lines.append(f"- `{r['command']}` ({', '.join(r['sections'])}): {m['cpu']}, "
                     f"{m['cores']} cores, load {r['load_start']} at start, "
                     f"{r.get('load_end', '?')} at end; {m['date']}, "
                     f"{r.get('seconds_total', '?')} s")
    lines.append("")
    if "faithfulness" in s:
        lines += ["## Faithfulness (FRANK test, partial correlation with human Factuality, "
                  "controlling for the system)\n",
                  "| checker | marks: partial Pearson [95%] | score: partial Pearson [95%] | "
                  "score: partial Spearman |", "|---|---|---|---:|"]
        for sup, v in s["faithfulness"].items():
            a, b = v["marks_partial_pearson"], v["score_partial_pearson"]
            lines.append(f"| {sup} | {a['pearson']} {a['pearson_ci95']} | {b['pearson']} "
                         f"{b['pearson_ci95']} | {b['spearman']} |")
        for b in s.get("faithfulness_baselines", []):
            lines.append(f"| {b['name']} (published {b.get('published_pearson')}) | | "
                         f"{b['pearson']} {b['pearson_ci95']} | {b['spearman']} |")
        lines.append("")
    if "stereotypes" in s:
        lines += ["## CrowS-Pairs (share preferring the more stereotypical sentence)\n",
                  "| scoring | decided | share | 95% interval | p vs 0.5 |",
                  "|---|---:|---:|---|---:|"]
        for sc, v in s["stereotypes"].items():
            o = v["overall"]
            lines.append(f"| {sc} | {o['decided']} | {o['share']} | {o['ci95']} | "
                         f"{o['p_value_vs_50']:.3g} |")
        lines.append("")
    if "bias" in s:
        lines += ["## BOLD (sentiment is a proxy for regard)\n"]
        for dom, v in s["bias"].items():
            for metric, d in v["metrics"].items():
                gap = d["gap"]
                lines.append(f"- {dom} {metric}: " + ", ".join(
                    f"{g} {x['mean']}" for g, x in d["per_group"].items())
                    + ("" if gap is None else f"; gap {gap['gap']} p={gap['p_value']}"))
            lines.append(f"- {dom} empty continuations: {v['empty_continuations']}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="faithfulness,stereotypes,bias")
    ap.add_argument("--supports", default="lexical,embedding,fragments,combined")
    ap.add_argument("--crows-limit", type=int, default=None)
    ap.add_argument("--bold-domains", default="gender,race")
    ap.add_argument("--bold-limit", type=int, default=10)
    ap.add_argument("--bold-tokens", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--collect", action="store_true",
                    help="only rebuild safety.json/.md from the safety_*.json files")
    args = ap.parse_args()
    if args.collect:
        out = collect()
        (RESULTS / "safety.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
        (RESULTS / "safety.md").write_text(markdown(out))
        return
    only = args.only.split(",")
    summary: dict[str, Any] = {}
    old = RESULTS / "safety.json"
    if old.is_file():  # sections not run now are kept, each with the run that measured it
        summary = {k: v for k, v in json.loads(old.read_text()).items()
                   if k in ("runs", "faithfulness", "faithfulness_baselines", "stereotypes",
                            "bias")}
    run = {"sections": only, "machine": machine(), "load_start": load(),
           "command": "python bench/safety.py " + shlex.join(sys.argv[1:])}
    summary.setdefault("runs", []).append(run)
    t0 = time.perf_counter()
    if "faithfulness" in only:
        faithfulness(args, summary)
    gen = None
    if "stereotypes" in only or "bias" in only:
        from ponder.llm import load_generator

        gen = load_generator(args.model, n_threads=args.threads)
    if "stereotypes" in only:
        stereotypes(args, summary, gen)
    if "bias" in only:
        bias(args, summary, gen)
    run["seconds_total"] = round(time.perf_counter() - t0, 1)
    run["load_end"] = load()
    save(summary)


if __name__ == "__main__":
    main()
