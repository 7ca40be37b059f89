"""Evaluate the task pipelines on the shared real data sets, with baselines from the same run.

Run:  .venv/bin/python bench/tasks.py [--summ 100] [--abstractive 20] [--sentiment 500]
                                      [--sentiment-llm 300] [--zeroshot 500] [--zeroshot-dev 150]
                                      [--translation 100] [--toxicity-llm 0] [--threads 1]
                                      [--model smollm2] [--only summarization,sentiment]

Fixed-seed subsets (seed 0) of FRANK test (summarization: lead-3, extractive and abstractive,
ROUGE), TweetEval sentiment test (sentiment: majority class, the shipped classifier head,
embedding similarity, LLM label likelihood on the first ``--sentiment-llm``; ``--sentiment 0``
means the whole test split), TweetEval val of sentiment, offensive and hate as the zero-shot
dev set (embedding vs LLM, which picks the zero-shot default), TweetEval sentiment test as free
zero-shot labels, TweetEval offensive and hate test (toxicity: the shipped heads against the
majority class and the published baselines) and WMT22 en-de (translation: copy-the-source
baseline and the model; chrF and BLEU). Saves ``bench/results/tasks.json`` and
``bench/results/tasks.md`` (with the exact command), and for toxicity
``bench/results/tasks_toxicity_{offensive,hate}.{json,md,png}``. A summarization run also
records its figures in ``src/ponder/data/summarization_figures.json``, from which
``Summarizer(method="auto")`` picks its default. Timings are wall-clock seconds on whatever CPU
this runs on; on a shared machine they are noisy (the load average is recorded).
``--threads 1`` is the fastest llama.cpp setting when other processes compete for the cores.
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

from _common import RESULTS, machine
from ponder.evaluate.tasks_eval import (
    eval_sentiment,
    eval_summarization,
    eval_translation,
    eval_zeroshot,
    eval_zeroshot_dev,
    to_markdown,
)
from ponder.evaluate.toxicity_eval import eval_toxicity, write_outputs
from ponder.evaluate.toxicity_eval import to_markdown as toxicity_markdown
from ponder.llm import load_generator
from ponder.tasks.summarize import FIGURES

TASKS = ("summarization", "sentiment", "zeroshot-dev", "zeroshot", "toxicity", "translation")
NOTES = """\
## Reading these figures

- **Sizes.** Fixed-seed (seed 0) subsets, sizes in each table (`n`); sentiment and toxicity run
  on the whole TweetEval test splits. Slow LLM methods run on the first `k` items of the same
  split, and the other methods are scored again on those same items (rows named
  "first k"), so every method is compared on the same inputs.
- **Baselines** are measured in the same run: lead-3 (the first three sentences), the majority
  class of the evaluated tweets (an optimistic constant predictor: it knows the test
  distribution), and copying the English source as the "translation". The published TweetEval
  baselines (toxicity) are quoted from Barbieri et al. (2020), not re-run.
- **Defaults follow these figures**: sentiment uses the classifier head (logistic regression
  on SmolLM2-135M's mean hidden state after layer 15, trained on TweetEval sentiment val,
  temperature-calibrated on held-out tweets; `scripts/train_heads.py`); zero-shot
  classification uses the method with the higher mean macro-F1 on the zero-shot dev set
  (TweetEval val tweets of three tasks with their label words as free labels: data we did not
  write); summarization uses the better of extractive and lead
  by ROUGE-1 on FRANK, and abstractive only for a model recorded above lead-3
  (`src/ponder/data/summarization_figures.json`, written by the summarization run).
- **The default model is SmolLM2-135M-Instruct (Q4_1)**, and the LLM rows are its figures. At
  135M parameters its label scores are dominated by a prior toward one label, contextual
  calibration with a content-free input over-corrects on it, its abstractive summaries invent
  details and score below lead-3, and it **cannot translate English to German** (its chrF is no
  better than copying the source; every translation result carries a `note` saying so). The
  pipelines are model-agnostic: pass `--model path/to/larger.gguf`, a Hugging Face folder, or
  `openai:http://host:port/v1#model` for real use. No larger model is available offline here.
- **Timings** are wall-clock on 2 shared cores while other jobs ran (the load average is given
  with each command): several times slower than on an idle machine, and noisy. llama.cpp ran
  with 1 thread, the fastest setting under that contention.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--summ", type=int, default=100, help="FRANK articles (lead, extractive)")
    ap.add_argument("--abstractive", type=int, default=20, help="of them, for the LLM")
    ap.add_argument("--sentiment", type=int, default=500, help="TweetEval tweets (0: all)")
    ap.add_argument("--sentiment-llm", type=int, default=300, help="of them, for the LLM")
    ap.add_argument("--zeroshot", type=int, default=500, help="TweetEval tweets")
    ap.add_argument("--zeroshot-dev", type=int, default=150, help="val tweets per label set")
    ap.add_argument("--toxicity-llm", type=int, default=0, help="test tweets for the LLM")
    ap.add_argument("--translation", type=int, default=100, help="WMT22 en-de sentences")
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--embedder", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=",".join(TASKS), help="comma-separated subset of tasks")
    ap.add_argument("--out", default="tasks", help="result name under bench/results/")
    ap.add_argument("--md-only", action="store_true",
                    help="rewrite the Markdown from the saved JSON; run nothing")
    args = ap.parse_args(argv)
    if args.md_only:
        saved = json.loads((RESULTS / f"{args.out}.json").read_text())
        write_markdown(saved, args.out)
        if "summarization" in saved["results"]:
            write_summarization_figures(saved["results"]["summarization"])
        return 0
    only = [t.strip() for t in args.only.split(",") if t.strip()]
    bad = sorted(set(only) - set(TASKS))
    if bad:
        ap.error(f"unknown task(s) {bad}: choose from {', '.join(TASKS)}")
    kwargs: dict[str, Any] = {}
    if args.model.lower() not in ("fake", "toy") and not args.model.startswith("openai:"):
        kwargs["n_threads"] = args.threads
    gen = load_generator(args.model, **kwargs)
    command = "python bench/tasks.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    results: dict[str, Any] = {}
    t_all = time.perf_counter()
    runs = {
        "summarization": lambda: eval_summarization(
            args.summ, args.seed, model=gen, embedder=args.embedder,
            abstractive_n=args.abstractive),
        "sentiment": lambda: eval_sentiment(args.sentiment or None, args.seed, model=gen,
                                            embedder=args.embedder, llm_n=args.sentiment_llm),
        "zeroshot-dev": lambda: eval_zeroshot_dev(args.zeroshot_dev, args.seed, model=gen,
                                                  embedder=args.embedder),
        "zeroshot": lambda: eval_zeroshot(args.zeroshot, args.seed, model=gen,
                                          embedder=args.embedder),
        "toxicity": lambda: run_toxicity(gen, args.toxicity_llm),
        "translation": lambda: eval_translation(args.translation, args.seed, model=gen),
    }
    for task in only:
        t0 = time.perf_counter()
        print(f"== {task} ...", flush=True)
        load_before = os.getloadavg()
        results[task] = runs[task]()
        results[task]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        results[task]["command"] = command.strip()
        results[task]["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg())]
        if task == "summarization":
            write_summarization_figures(results[task])
        print(_markdown(results[task]), flush=True)
    total = round(time.perf_counter() - t_all, 1)
    out = {
        "machine": machine(),
        "command": command.strip(),
        "threads": args.threads,
        "total_seconds": total,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"{args.out}.json"
    if set(only) != set(TASKS) and json_path.exists():  # keep the other tasks' last results
        saved = json.loads(json_path.read_text())
        merged = {t: saved["results"][t] for t in TASKS if t in saved.get("results", {})}
        merged.update(results)
        out["results"] = {t: merged[t] for t in TASKS if t in merged}
        out["total_seconds"] = round(
            sum(r.get("wall_seconds", 0) for r in out["results"].values()), 1
        )
    json_path.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    write_markdown(out, args.out)
    print(f"saved {json_path} and {RESULTS / (args.out + '.md')}")
    return 0


def _markdown(result: dict[str, Any]) -> str:
    if result.get("task") == "toxicity":
        return "\n\n".join(toxicity_markdown(r) for r in result["runs"].values())
    return to_markdown(result)


def run_toxicity(gen: Any, llm_n: int) -> dict[str, Any]:
    """Both TweetEval toxicity tasks on their whole test splits, with JSON/MD/PNG per task."""
    runs = {}
    for task in ("offensive", "hate"):
        runs[task] = eval_toxicity(task, llm_n=llm_n, model=gen)
        write_outputs(runs[task], RESULTS / f"tasks_toxicity_{task}.json")
    return {"task": "toxicity", "runs": runs}


def write_summarization_figures(result: dict[str, Any]) -> Path:
    """Record ROUGE-1 of extractive and lead-3 (all articles) and of the abstractive model
    with lead-3 on the same articles, for ``Summarizer(method="auto")``."""
    rows = result["systems"]
    full = [r for r in rows if r["n"] == result["n"]]
    r1 = {("lead" if r["system"].startswith("lead") else r["system"]): r["rouge1"] for r in full
          if r["system"] != "abstractive"}
    figures: dict[str, Any] = {
        "data": result["data"],
        "n": result["n"],
        "seed": result["seed"],
        "command": result.get("command"),
        "rouge1": r1,
        "abstractive": {},
    }
    abstractive = [r for r in rows if r["system"] == "abstractive"]
    if abstractive and result.get("model"):
        a = abstractive[0]
        lead_same = next(r for r in rows if r["system"].startswith("lead") and r["n"] == a["n"])
        figures["abstractive"][result["model"]] = {
            "rouge1": a["rouge1"], "lead3_rouge1": lead_same["rouge1"], "n": a["n"],
        }
    if FIGURES.exists():  # keep other models' records
        old = json.loads(FIGURES.read_text())
        for model, row in old.get("abstractive", {}).items():
            figures["abstractive"].setdefault(model, row)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return FIGURES


def write_markdown(out: dict[str, Any], name: str) -> Path:
    """``bench/results/NAME.md``: the command, a table per task, and how to read them."""
    md = [
        "# Task pipelines on the shared data sets",
        "",
        f"{out['machine']['cpu']}, {out['machine']['cores']} cores, {out['machine']['date']}; "
        f"{out['total_seconds']} s in all.",
        "",
    ]
    for result in out["results"].values():
        cmd = result.get("command", out["command"])
        load = result.get("load_average")
        where = (f"; load average {load[0]:.1f} before, {load[3]:.1f} after (1 min)"
                 if load else "")
        md += [_markdown(result), "",
               f"Command: `{cmd}` ({result.get('wall_seconds')} s{where})", ""]
    md.append(NOTES)
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(md), encoding="utf-8")
    return path


if __name__ == "__main__":
    raise SystemExit(main())
