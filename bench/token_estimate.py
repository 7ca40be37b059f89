"""How good is ``ponder.text``'s token estimate, used when a model exposes no tokenizer?

For 800 real texts (200 FRANK articles, 100 XQuAD contexts, 300 TweetEval tweets, 200 SciFact
abstracts) the exact counts of the two shipped tokenizers (SmolLM2's, through the default
generator, and MiniLM's WordPiece, through the default embedder) are compared with candidate
estimates: the one ``ponder.text`` uses (``ceil(characters / 3)``), characters / 4 and
whitespace words. Reported per tokenizer: the median, 5th and 95th percentile of
estimate / exact, and the share of texts the estimate under-counts (an under-count can
overflow a context window; an over-count only wastes some of it).

Run: ``.venv/bin/python bench/token_estimate.py`` (a minute; saves
``bench/results/token_estimate.json``).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, save
from ponder.embed import load_embedder
from ponder.evaluate.tasks_eval import load_frank, load_tweeteval
from ponder.llm import load_generator
from ponder.text import estimate_tokens


def texts() -> dict[str, list[str]]:
    xquad = DATASETS / "xquad" / "xquad_contexts_parallel_en_es_de.jsonl"
    scifact = DATASETS / "beir_scifact" / "corpus.jsonl"
    with xquad.open() as f:
        contexts = [json.loads(line)["en"] for line in f][:100]
    with scifact.open() as f:
        abstracts = [json.loads(line)["text"] for _, line in zip(range(200), f, strict=False)]
    return {
        "frank_articles": [r["article"] for r in load_frank(None)][:200],
        "xquad_contexts": contexts,
        "tweets": load_tweeteval(300, 0)[0],
        "scifact_abstracts": abstracts,
    }


ESTIMATES: dict[str, Callable[[str], int]] = {
    "ponder.text: ceil(chars / 3)": estimate_tokens,
    "ceil(chars / 4)": lambda t: math.ceil(len(t) / 4),
    "whitespace words": lambda t: len(t.split()),
}


def ratios(exact: list[int], estimate: list[int]) -> dict[str, Any]:
    r = sorted(e / x for e, x in zip(estimate, exact, strict=True) if x)
    n = len(r)
    return {
        "median": round(r[n // 2], 3),
        "p5": round(r[n // 20], 3),
        "p95": round(r[n * 19 // 20], 3),
        "under_count_share": round(sum(x < 1 for x in r) / n, 4),
    }


def main() -> None:
    load0 = os.getloadavg()[0]
    sets = texts()
    every = [t for group in sets.values() for t in group]
    counters = {"smollm2 (default generator)": load_generator(None).count_tokens,
                "all-MiniLM-L6-v2 (default embedder)": load_embedder(None).count_tokens}
    results: dict[str, Any] = {}
    for name, count in counters.items():
        exact = [count(t) for t in every]
        results[name] = {label: ratios(exact, [f(t) for t in every])
                         for label, f in ESTIMATES.items()}
        print(name, json.dumps(results[name]), flush=True)
    save("token_estimate", {
        "command": "python bench/token_estimate.py",
        "texts": {k: len(v) for k, v in sets.items()},
        "ratio": "estimate / exact token count, per text",
        "results": results,
        "loadavg": [load0, os.getloadavg()[0]],
    })


if __name__ == "__main__":
    main()
