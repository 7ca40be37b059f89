"""``ponder ask`` on XQuAD English: quality and latency of the default model, RAG vs closed
book, at the default settings and at larger k.

The 240 paragraphs are added to a collection (one chunk each, default embedder) in
``bench/results/cache`` and reused. Questions are a subset spread evenly over the 1,190 (the
full set takes hours on two shared cores): ``--limit`` (default 40) for the main settings,
``--chain-limit`` (default 8) for the chain comparison.

Run: ``.venv/bin/python bench/ask.py [--limit 40] [--chain-limit 8] [--model smollm2]``.
Timings are noisy: other work shares the two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, RESULTS, save
from ponder.evaluate.qa import (
    evaluate_qa,
    ingest_paragraphs,
    load_squad,
    markdown_table,
    records_json,
    sample_examples,
)
from ponder.llm import load_generator
from ponder.rag.ask import DEFAULT_CONTEXT_TOKENS, DEFAULT_K, AskConfig
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--chain-limit", type=int, default=8)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--name", default="ask")
    ap.add_argument("--skip", default="", help="comma-separated settings to skip")
    args = ap.parse_args()
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
        (f"rag k={DEFAULT_K}, {DEFAULT_CONTEXT_TOKENS} ctx tokens (default)", "rag", AskConfig(),
         subset),
        (f"rag k=5, {big} ctx tokens", "rag", AskConfig(k=5, max_context_tokens=big), subset),
    ]
    for chain in ("stuff", "map_reduce", "refine", "map_rerank"):
        settings.append((f"chain {chain} k=5 (subset)", "rag", AskConfig(k=5, chain=chain),
                         chain_subset))
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
