"""Ingest benchmark. Side by side, in one run, on the stdlib docs, everything warm (an untimed
first pass loads the model, imports and renders the modules, so that neither side pays imports
the other does not; a cold and a warm encode of the same texts measured the same, so the
embedder needs no more warming than one call):

1. Ponder end to end (pydoc render -> chunk -> embed -> SQLite + FAISS) vs the embedder's raw
   encode rate on the very same chunk texts: Ponder's pipeline overhead (goal <= 10%).
2. The same chunks through Chroma (``add()`` with the same model's embeddings,
   ``embedding_function=None``) and LanceDB: their end-to-end time is load+chunk (measured)
   + the same embedding time (measured in 1) + their own ``add`` time (measured). Goal: Ponder
   at least as fast.
3. Re-ingest of the unchanged corpus (goal >= 50x faster than the first ingest).
4. The default embedding backend vs sentence-transformers on torch (goal >= 1.5x at mean
   cosine >= 0.99), on a sample of the same chunks.

    .venv/bin/python bench/ingest.py [--modules demo|all|a,b,c] [--sample 256] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, save
from ponder.config import load_settings
from ponder.embed import load_embedder
from ponder.ingest import DEMO_MODULES, chunk_document, load_pydoc, stdlib_modules
from ponder.store.collection import Collection


def modules_arg(value: str) -> list[str]:
    if value == "demo":
        return list(DEMO_MODULES)
    if value == "all":
        return stdlib_modules()
    return [m for m in value.split(",") if m]


def chroma_add(texts, vectors, metas, ids, folder: Path) -> float:
    import chromadb

    client = chromadb.PersistentClient(path=str(folder / "chroma"))
    col = client.create_collection("bench", embedding_function=None,
                                   metadata={"hnsw:space": "cosine"})
    with Timer() as t:
        for i in range(0, len(texts), 1000):
            col.add(ids=ids[i : i + 1000], documents=texts[i : i + 1000],
                    embeddings=vectors[i : i + 1000], metadatas=metas[i : i + 1000])
    return t.seconds


def lance_add(texts, vectors, metas, ids, folder: Path) -> float:
    import lancedb
    import pyarrow as pa

    db = lancedb.connect(str(folder / "lance"))
    with Timer() as t:
        table = pa.table({
            "id": ids, "text": texts, "source": [m["source"] for m in metas],
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.reshape(-1), type=pa.float32()), vectors.shape[1]),
        })
        db.create_table("bench", data=table)
    return t.seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", default="demo")
    ap.add_argument("--sample", type=int, default=256, help="chunks for the backend comparison")
    ap.add_argument("--embedder", default=None)
    ap.add_argument("--rounds", type=int, default=1, help="alternations; the best of each counts")
    args = ap.parse_args()
    mods = modules_arg(args.modules)
    s = load_settings()
    emb = load_embedder(args.embedder)
    with Timer() as t_warm:  # model load and module imports: not ingest time
        emb.embed(["warm up the model"])
        for d in load_pydoc(mods):
            if not isinstance(d, Exception):
                chunk_document(d, emb.tokenize, s.chunk_tokens, s.chunk_overlap)
    print(f"warm-up pass (untimed in the figures): {t_warm.seconds:.1f}s")
    work = Path(tempfile.mkdtemp(prefix="ponder-bench-"))
    results: dict = {"modules": len(mods), "embedder": getattr(emb, "name", emb.model_id),
                     "chunk_tokens": s.chunk_tokens, "chunk_overlap": s.chunk_overlap,
                     "load_average_at_start": os.getloadavg()}
    try:
        # 1. Ponder end to end, raw encode and load + chunk, alternated ``--rounds`` times
        #    (the best of each: the least disturbed by other work on the machine)
        firsts: list[float] = []
        raws: list[float] = []
        loads: list[float] = []
        for r in range(args.rounds):
            col = Collection.create(f"bench{r}", home=work, embedder=emb)
            with Timer() as t:
                report = col.ingest_pydoc(mods)
            firsts.append(t.seconds)
            n = report.chunks
            print(f"ponder first ingest: {n} chunks in {t.seconds:.1f}s "
                  f"({n / t.seconds:.1f} chunks/s); skipped {len(report.skipped)}")
            if r == 0:  # 3. re-ingest, unchanged
                with Timer() as t_re:
                    again = col.ingest_pydoc(mods)
                assert again.chunks == 0, again
                print(f"re-ingest unchanged: {t_re.seconds:.2f}s "
                      f"({t.seconds / t_re.seconds:.0f}x faster)")
            chunks = col.get()
            col.close()
            texts = [c.text for c in chunks]
            # raw encode of the same texts
            with Timer() as t:
                vectors = emb.embed(texts)
            raws.append(t.seconds)
            print(f"raw encode of the same {len(texts)} chunks: {t.seconds:.1f}s "
                  f"({len(texts) / t.seconds:.1f}/s)")
            # load + chunk alone (the part a peer store also needs)
            with Timer() as t:
                n_chunked = 0
                for doc in load_pydoc(mods):
                    if not isinstance(doc, Exception):
                        n_chunked += len(chunk_document(doc, emb.tokenize, s.chunk_tokens,
                                                        s.chunk_overlap))
            loads.append(t.seconds)
            print(f"load + chunk alone: {t.seconds:.1f}s ({n_chunked} chunks)")
        metas = [{"source": c.source or ""} for c in chunks]
        ids = [c.id for c in chunks]
        t_first, t_raw, t_chunk = min(firsts), min(raws), min(loads)
        overhead = t_first / t_raw - 1
        residual = t_first - t_raw - t_chunk
        print(f"Ponder minus raw encode minus load+chunk (writes, FTS5, index, hashing): "
              f"{residual:.1f}s")
        results.update({
            "warm_up_s": t_warm.seconds,
            "store_and_pipeline_s": residual,
            "chunks": n,
            "ponder_first_ingest_s": t_first,
            "ponder_chunks_per_s": n / t_first,
            "raw_encode_s": t_raw,
            "raw_encode_per_s": len(texts) / t_raw,
            "load_and_chunk_s": t_chunk,
            "pipeline_overhead": overhead,
            "reingest_s": t_re.seconds,
            "reingest_speedup": t_first / t_re.seconds,
            "rounds": args.rounds,
            "ponder_first_ingest_all_s": firsts,
            "raw_encode_all_s": raws,
            "load_and_chunk_all_s": loads,
        })
        # 2. peers
        for name, fn in (("chroma", chroma_add), ("lancedb", lance_add)):
            try:
                add_s = fn(texts, vectors, metas, ids, work)
            except ImportError as e:
                print(f"{name}: not installed ({e}); `make bench-deps`")
                continue
            e2e = t_chunk + t_raw + add_s
            results[f"{name}_add_s"] = add_s
            results[f"{name}_end_to_end_s"] = e2e
            print(f"{name}: add {add_s:.2f}s, end to end {e2e:.1f}s "
                  f"(ponder {t_first:.1f}s: {e2e / t_first:.2f}x)")
        # 4. backend vs sentence-transformers torch
        sample = texts[: args.sample]
        torch_emb = load_embedder("minilm-torch")
        torch_emb.embed(["warm up"])
        with Timer() as t_torch:
            v_torch = torch_emb.embed(sample)
        with Timer() as t_def:
            v_def = emb.embed(sample)
        cos = np.sum(v_torch * v_def, axis=1) / (
            np.linalg.norm(v_torch, axis=1) * np.linalg.norm(v_def, axis=1))
        results.update({
            "backend_sample": len(sample),
            "torch_per_s": len(sample) / t_torch.seconds,
            "default_per_s": len(sample) / t_def.seconds,
            "default_vs_torch_speedup": t_torch.seconds / t_def.seconds,
            "mean_cosine_vs_torch": float(cos.mean()),
            "min_cosine_vs_torch": float(cos.min()),
        })
        print(f"default backend {len(sample) / t_def.seconds:.1f}/s vs torch "
              f"{len(sample) / t_torch.seconds:.1f}/s = {t_torch.seconds / t_def.seconds:.2f}x, "
              f"mean cosine {cos.mean():.4f} (min {cos.min():.4f})")
        print(f"pipeline overhead vs raw encode: {overhead * 100:+.1f}%")
        results["load_average_at_end"] = os.getloadavg()
        save("ingest", results)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
