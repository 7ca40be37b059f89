"""``ponder ask`` on XQuAD English: quality and latency of the default model, RAG vs closed
book, at the default settings and at larger k (``--legacy``); and, by default, the answer
modes side by side (``modes``): extractive on every question, auto on ``--auto-limit``
questions spread evenly (bounded by ``--budget`` seconds), generative scored from the same
auto run (auto keeps or replaces the generated answer; both are recorded), and extractive on
the auto run's questions too. The extractive scorer was fitted on the even-numbered articles
(``bench/fit_extractive.py``): rows for the held-out (odd-numbered) articles are given apart.

Run (the two parts may run at the same time)::

    .venv/bin/python bench/ask.py --part extractive
    .venv/bin/python bench/ask.py --part auto --auto-limit 400 --budget 1800
    .venv/bin/python bench/ask.py --part report        # writes ask_modes.json/md

The 240 paragraphs are added to a collection (one chunk each, default embedder) in
``bench/results/cache`` and reused. Questions are a subset spread evenly over the 1,190 (the
full set takes hours on two shared cores): ``--limit`` (default 40) for the main settings,
``--chain-limit`` (default 8) for the chain comparison.

Legacy run: ``.venv/bin/python bench/ask.py --legacy [--limit 40] [--chain-limit 8]``.
Timings are noisy: other work shares the two cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, RESULTS, machine, save
from ponder.evaluate.qa import (
    QARecord,
    evaluate_qa,
    ingest_paragraphs,
    load_squad,
    markdown_table,
    records_json,
    sample_examples,
    score_answer,
    summarize,
)
from ponder.llm import load_generator
from ponder.rag.ask import DEFAULT_CONTEXT_TOKENS, DEFAULT_K, AskConfig, ask, fallback_reason
from ponder.store.collection import Collection

HOME = RESULTS / "cache"


def prompt_rate(gen: Any, tokens: int = 400) -> float:
    """Prompt tokens per second right now (the cores are shared: this moves with the load)."""
    text = " ".join(f"word{i}" for i in range(tokens // 3))
    best = 0.0
    for i in range(2):  # a different prompt each time: no cache reuse
        c = gen.complete(f"{i} {text}", raw=True, max_new_tokens=1)
        if c.prompt_seconds > 0:
            best = max(best, c.prompt_tokens / c.prompt_seconds)
    return best


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _split(paragraphs: list[Any]) -> tuple[list[str], set[str]]:
    articles = list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in paragraphs))
    return articles, set(articles[0::2])  # the fit set of bench/fit_extractive.py


def run_part(args: argparse.Namespace, part: str) -> None:
    """One part of the modes run, saved to ``<name>.<part>.json``: ``extractive`` (all
    questions; never loads the model) or ``auto`` (``--auto-limit`` spread questions, stopped
    after ``--budget`` seconds; the generated answer of each is kept too)."""
    path = DATASETS / "xquad" / "xquad.en.json"
    if not path.exists():
        sys.exit(f"XQuAD not found at {path}: nothing to benchmark")
    paragraphs, examples = load_squad(path)
    col = Collection.get_or_create("xquad-en", home=HOME)
    ingest_paragraphs(col, paragraphs)
    meta: dict[str, Any] = {"uptime_before": uptime()}
    print(part, "load before:", meta["uptime_before"], flush=True)
    t0 = time.time()
    out: dict[str, Any] = {}
    if part == "extractive":
        cfg = AskConfig(answer="extractive")
        recs: list[QARecord] = []
        for i, ex in enumerate(examples):
            recs.append(score_answer(ex, ask(ex.question, collection=col, config=cfg), "rag"))
            if i % 100 == 0:
                print(f"  extractive {i}/{len(examples)} ({time.time() - t0:.0f}s)", flush=True)
        out["extractive"] = records_json(recs)
    else:
        subset = sample_examples(examples, args.auto_limit)
        if args.exclude_spread:  # the rest of an earlier spread run, in a seeded random order
            done = {e.id for e in sample_examples(examples, args.exclude_spread)}
            subset = [e for e in subset if e.id not in done]
            random.Random(0).shuffle(subset)  # a run the budget stops is a random sample
        gen = load_generator(args.model)
        gen.count_tokens("warm up")
        meta["prompt_tokens_per_second_before"] = round(prompt_rate(gen), 1)
        auto: list[QARecord] = []
        generative: list[QARecord] = []
        for ex in subset:
            if time.time() - t0 > args.budget:
                break
            a = ask(ex.question, collection=col, model=gen)
            auto.append(score_answer(ex, a, "rag"))
            generative.append(score_answer(ex, a.generated if a.generated is not None else a,
                                           "rag"))
            r = auto[-1]
            print(f"  auto {len(auto)}/{len(subset)} by={r.answered_by} contains={r.contains:.0f}"
                  f" ttft={r.ttft:.1f}s | {r.answer[:60]!r}", flush=True)
        meta["prompt_tokens_per_second_after"] = round(prompt_rate(gen), 1)
        meta["model"] = gen.model_id
        meta["auto_asked_for"] = len(subset)
        meta["budget_s"] = args.budget
        out["auto"], out["generative"] = records_json(auto), records_json(generative)
    col.close()
    meta["seconds"] = round(time.time() - t0, 1)
    meta["uptime_after"] = uptime()
    save(f"{args.name}.{part}", {"meta": meta, **out})


def replay_auto(ext: list[QARecord], paragraphs: dict[str, str]
                ) -> tuple[dict[str, Any], list[QARecord], list[QARecord]]:
    """Auto's first rule (``fallback_reason``, the support check) applied to the generative
    answers recorded in ``ask.json`` (default settings): each is kept or replaced by the
    extractive record of the same question. The agreement check is not replayed here
    (``bench/fit_auto.py`` replays it on a live run's records)."""
    from ponder.rag.answer import Answer, SentenceSupport

    old = json.loads((RESULTS / "ask.json").read_text())
    gen = [QARecord(**r) for r in old["records"]["rag k=3, 480 ctx tokens (default)"]]
    by_id = {r.id: r for r in ext}
    auto = []
    for g in gen:
        # the fields fallback_reason reads: status, unsupported sentences, claims
        claims = [SentenceSupport("claim", (), (), 1.0)] * g.checked_sentences
        a = Answer(g.question, g.answer, status=g.status,  # type: ignore[arg-type]
                   unsupported=["unsupported"] * g.unsupported_sentences, sentences=claims)
        reason = fallback_reason(a, [paragraphs[i] for i in g.retrieved])
        x = by_id[g.id]
        if not reason or (x.status != "answered" and g.status == "no_answer"):
            auto.append(g)
            continue
        auto.append(dataclasses.replace(
            x, ttft=g.ttft, total=g.total + x.total, fallback_reason=reason,
            generated=g.answer, prompt_tokens=g.prompt_tokens))
    return {"meta": {**old["meta"], "replayed": True}}, auto, gen


def report(args: argparse.Namespace) -> None:
    """Merge the parts into ``<name>.json`` and ``<name>.md``."""
    paragraphs, examples = load_squad(DATASETS / "xquad" / "xquad.en.json")
    articles, fit_articles = _split(paragraphs)
    article_of = {ex.id: ex.paragraph_id.rsplit("-", 1)[0] for ex in examples}
    ext_part = json.loads((RESULTS / f"{args.name}.extractive.json").read_text())
    auto_file = RESULTS / f"{args.name}.auto.json"

    def recs(rows: list[dict[str, Any]]) -> list[QARecord]:
        return [QARecord(**r) for r in rows]

    ext = recs(ext_part["extractive"])
    if auto_file.exists():
        auto_part = json.loads(auto_file.read_text())
        auto, gen = recs(auto_part["auto"]), recs(auto_part["generative"])
        how = "measured"
    else:
        auto_part, auto, gen = replay_auto(ext, {p.id: p.text for p in paragraphs})
        how = "replayed"
    done = {r.id for r in auto}
    ext_sub = [r for r in ext if r.id in done]

    def held(rs: list[QARecord]) -> list[QARecord]:
        return [r for r in rs if article_of[r.id] not in fit_articles]

    rows = [
        {"setting": f"extractive, all {len(ext)} questions", **summarize(ext)},
        {"setting": f"extractive, held-out articles ({len(held(ext))} q.)",
         **summarize(held(ext))},
        {"setting": f"generative ({'recorded' if how == 'replayed' else 'run'}), {len(gen)} "
                    "spread questions", **summarize(gen)},
        {"setting": f"auto (default, {how}), same {len(auto)}", **summarize(auto)},
        {"setting": f"extractive, same {len(ext_sub)}", **summarize(ext_sub)},
    ]
    for name, rs in (("generative", gen), ("auto", auto), ("extractive", ext_sub)):
        rows.append({"setting": f"{name}, same, held-out ({len(held(rs))} q.)",
                     **summarize(held(rs))})
    em, am = ext_part["meta"], auto_part["meta"]
    if how == "replayed":
        auto_text = (
            f"Auto is **replayed**, not run: the two cores were too loaded for the model (load "
            f"average above 20: one auto question took 2-5 minutes), so the generative answers "
            f"are the {len(gen)} recorded by the default-settings run of {am['date']} "
            "(bench/results/ask.json, the same retrieval, prompt and model), and auto applies "
            "its rule to each (`ponder.rag.ask.fallback_reason` on the recorded status, "
            "unsupported sentences and answer text against the retrieved paragraphs): kept, or "
            "replaced by this run's extractive answer to the same question. TTFT of auto = the "
            "generated answer's (it streams first); total adds the extractive time on a "
            "fallback.")
    else:
        auto_text = (
            f"Auto: {len(auto)} questions spread evenly over the {len(examples)} (asked for "
            f"{am['auto_asked_for']}, budget {am['budget_s']:.0f}s"
            f"{', which stopped it' if len(auto) < am['auto_asked_for'] else ''}) in "
            f"{am['seconds']:.0f}s (load `{am['uptime_before']}` → `{am['uptime_after']}`); "
            f"prompt processing {am['prompt_tokens_per_second_before']} tokens/s before and "
            f"{am['prompt_tokens_per_second_after']} after (about 175 on two idle cores). The "
            "generative row is the model's own answer in that same run (auto then keeps it or "
            "replaces it).")
    meta = {**machine(), "extractive": em, "auto": am, "questions": len(examples),
            "fit_articles": sorted(fit_articles)}
    save(args.name, {"meta": meta, "results": rows})
    md = [
        f"# XQuAD English: answer modes ({am.get('model')}, MiniLM retrieval, defaults)",
        "",
        f"{meta['date']}, {meta['cpu']}, {meta['cores']} cores shared with other work. "
        f"Extractive: all {len(ext)} questions through `ask(..., answer=\"extractive\")` in "
        f"{em['seconds']:.0f}s (load `{em['uptime_before']}` → `{em['uptime_after']}`). "
        f"{auto_text} Generative, auto and extractive rows marked `same` are on the same "
        f"questions. The extractive scorer was fitted on {len(fit_articles)} of the "
        f"{len(articles)} articles (bench/fit_extractive.py); the held-out rows leave them "
        "out. TTFT: first token shown; for extractive the time to the whole answer. "
        "`extractive` = share of answers given by the extractive method.",
        "",
        markdown_table(rows),
        "",
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(md))
    print("\n".join(md))


def combine(args: argparse.Namespace) -> None:
    """Pool auto runs over disjoint questions (``--combine``), e.g. the 200 spread questions
    and a run of the other 990 (``--exclude-spread 200``): auto, generative and the
    held-out half over every question they covered; ``ask_modes_all.json``."""
    runs = [json.loads((RESULTS / f"{name}.json").read_text()) for name in
            args.combine.split(",")]
    recs = {k: [QARecord(**r) for run in runs for r in run[k]] for k in ("auto", "generative")}
    ids = [r.id for r in recs["auto"]]
    if len(ids) != len(set(ids)):
        sys.exit("the runs overlap: pool runs over disjoint questions")
    paragraphs, examples = load_squad(DATASETS / "xquad" / "xquad.en.json")
    _, fit = _split(paragraphs)
    article_of = {ex.id: ex.paragraph_id.rsplit("-", 1)[0] for ex in examples}
    held = [r for r in recs["auto"] if article_of[r.id] not in fit]
    save("ask_modes_all", {
        "runs": args.combine.split(","), "meta": [run["meta"] for run in runs],
        "questions": len(ids), "of": len(examples),
        "auto": summarize(recs["auto"]), "generative": summarize(recs["generative"]),
        "auto_held_out_articles": summarize(held),
    })
    print(json.dumps({"questions": len(ids), "auto": summarize(recs["auto"])}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--legacy", action="store_true", help="the RAG vs closed book / chains run")
    ap.add_argument("--part", choices=("extractive", "auto", "report", "combine"),
                    default="report")
    ap.add_argument("--exclude-spread", type=int, default=0,
                    help="auto: leave out the questions of an earlier --auto-limit N run")
    ap.add_argument("--combine", default="ask_modes.auto,ask_modes_rest.auto",
                    help="combine: the auto runs (result names) to pool")
    ap.add_argument("--auto-limit", type=int, default=400)
    ap.add_argument("--budget", type=float, default=2700, help="seconds for the auto run")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--chain-limit", type=int, default=8)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--name", default=None)
    ap.add_argument("--skip", default="", help="comma-separated settings to skip")
    args = ap.parse_args()
    if not args.legacy:
        args.name = args.name or "ask_modes"
        if args.part == "report":
            report(args)
        elif args.part == "combine":
            combine(args)
        else:
            run_part(args, args.part)
        return
    args.name = args.name or "ask"
    path = DATASETS / "xquad" / "xquad.en.json"
    if not path.exists():
        sys.exit(f"XQuAD not found at {path}: nothing to benchmark")
    paragraphs, examples = load_squad(path)
    subset = sample_examples(examples, args.limit)
    chain_subset = sample_examples(examples, args.chain_limit)
    gen = load_generator(args.model)
    col = Collection.get_or_create("xquad-en", home=HOME)
    t = time.time()
    added = ingest_paragraphs(col, paragraphs)
    print(f"collection xquad-en: {col.count()} paragraphs ({added} added in "
          f"{time.time() - t:.0f}s)", flush=True)

    rate = prompt_rate(gen)
    print(f"prompt processing now: {rate:.0f} tokens/s", flush=True)
    big = 2 * DEFAULT_CONTEXT_TOKENS
    settings: list[tuple[str, str, AskConfig, list[Any]]] = [
        ("closed book", "closed_book", AskConfig(), subset),
        (f"rag k={DEFAULT_K}, {DEFAULT_CONTEXT_TOKENS} ctx tokens (default)", "rag",
         AskConfig(answer="generative"), subset),
        (f"rag k=5, {big} ctx tokens", "rag",
         AskConfig(k=5, max_context_tokens=big, answer="generative"), subset),
    ]
    for chain in ("stuff", "map_reduce", "refine", "map_rerank"):
        settings.append((f"chain {chain} k=5 (subset)", "rag",
                         AskConfig(k=5, chain=chain, answer="generative"), chain_subset))
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    rows, records = [], {}
    t0 = time.time()
    for name, mode, cfg, qs in settings:
        if any(s in name for s in skip):
            continue
        t = time.time()
        done = [0]

        def tick(rec: Any, name: str = name, n: int = len(qs), done: list[int] = done) -> None:
            done[0] += 1
            print(f"  [{name}] {done[0]}/{n} contains={rec.contains:.0f} hit={rec.hit} "
                  f"ttft={rec.ttft:.1f}s | {rec.answer[:70]!r}", flush=True)

        summary, recs = evaluate_qa(qs, collection=col, model=gen, config=cfg, mode=mode,
                                    progress=tick)
        summary["seconds"] = round(time.time() - t, 1)
        rows.append({"setting": name, **summary})
        records[name] = records_json(recs)
        print(name, summary, flush=True)
        save(f"{args.name}.partial", {"results": rows, "records": records})  # survive a crash
    col.close()
    rate_after = prompt_rate(gen)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"), "model": gen.model_id,
        "prompt_tokens_per_second": {"before": round(rate, 1), "after": round(rate_after, 1)},
        "questions": len(subset), "chain_questions": len(chain_subset),
        "of": len(examples), "seconds": round(time.time() - t0, 1),
        "defaults": {"k": DEFAULT_K, "max_context_tokens": DEFAULT_CONTEXT_TOKENS},
    }
    save(args.name, {"meta": meta, "results": rows, "records": records})
    (RESULTS / f"{args.name}.partial.json").unlink(missing_ok=True)
    md = [
        f"# XQuAD English, {gen.model_id}",
        "",
        f"{meta['date']}. {len(subset)} of {len(examples)} questions (spread evenly), chain "
        f"comparison on {len(chain_subset)}; 2 shared cores, so timings are noisy: prompt "
        f"processing ran at {rate:.0f} tokens/s before and {rate_after:.0f} after the run "
        "(about 175 on two idle cores), and time to first token scales with it. "
        "EM/F1 are SQuAD's; `contains` = the gold answer occurs in the answer; hit@k = the "
        "gold paragraph was retrieved; `cites gold` = the answer's citations (the model's or "
        "inferred by the support check) include it; `unsupported` = share of checked answer "
        "sentences no source supports.",
        "",
        markdown_table(rows),
        "",
    ]
    (RESULTS / f"{args.name}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
