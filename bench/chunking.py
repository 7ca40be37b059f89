"""Loading and chunking benchmark: pydoc render + chunk_document on the stdlib docs.

Prints and saves (``bench/results/chunking.json``) the number of chunks, their token sizes
(counted by the embedder's own tokenizer) and the time to render the modules' documentation
and to chunk it. Model weights are never loaded: only the tokenizer is used.

    .venv/bin/python bench/chunking.py [--modules demo|all|a,b,c] [--chunk-tokens 200]
        [--overlap 32] [--embedder minilm] [--repeat 1]

Each repeat runs in the same process, so repeats after the first find the modules imported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, save
from ponder.embed import load_embedder
from ponder.ingest import DEMO_MODULES, chunk_document, load_pydoc, stdlib_modules
from ponder.types import LoadedDocument


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", default="demo", help="demo, all, or a comma-separated list")
    ap.add_argument("--chunk-tokens", type=int, default=200)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--embedder", default=None, help="default: the settings' embedder")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    if args.modules == "demo":
        mods = list(DEMO_MODULES)
    elif args.modules == "all":
        mods = stdlib_modules()
    else:
        mods = [m for m in args.modules.split(",") if m]
    emb = load_embedder(args.embedder)
    emb.tokenize("load the tokenizer")  # not part of the measured time
    runs = []
    for _ in range(args.repeat):
        with Timer() as t_load:
            items = list(load_pydoc(mods))
        docs = [d for d in items if isinstance(d, LoadedDocument)]
        with Timer() as t_chunk:
            chunks = [
                c
                for d in docs
                for c in chunk_document(d, emb.tokenize, args.chunk_tokens, args.overlap)
            ]
        runs.append((t_load.seconds, t_chunk.seconds))
    sizes = [emb.count_tokens(c.text) for c in chunks]
    per_module: dict[str, int] = {}
    for c in chunks:
        per_module[c.metadata["module"]] = per_module.get(c.metadata["module"], 0) + 1
    result = {
        "embedder": type(emb).__name__,
        "model_id": emb.model_id,
        "modules": len(mods),
        "modules_failed": [str(e) for e in items if not isinstance(e, LoadedDocument)],
        "chunk_tokens": args.chunk_tokens,
        "overlap": args.overlap,
        "documents": len(docs),
        "characters": sum(len(d.text) for d in docs),
        "chunks": len(chunks),
        "tokens_per_chunk": {
            "mean": round(statistics.fmean(sizes), 1),
            "median": statistics.median(sizes),
            "max": max(sizes),
            "over_budget": sum(s > args.chunk_tokens for s in sizes),
        },
        "seconds_load_pydoc": [round(a, 3) for a, _ in runs],
        "seconds_chunking": [round(b, 3) for _, b in runs],
        "chunks_per_second": round(len(chunks) / min(b for _, b in runs), 1),
        "chunks_per_module": dict(sorted(per_module.items(), key=lambda kv: -kv[1])),
    }
    for key, value in result.items():
        if key != "chunks_per_module":
            print(f"{key:>20}: {value}")
    save("chunking", result)


if __name__ == "__main__":
    main()
