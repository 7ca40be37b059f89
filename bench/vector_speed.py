"""Search speed in one short run: ``Collection.search`` vs raw FAISS, filtered vs unfiltered.

    .venv/bin/python bench/vector_speed.py                       # 30k clustered vectors, HNSW
    .venv/bin/python bench/vector_speed.py --n 200000 --queries 100
    .venv/bin/python bench/vector_speed.py --scifact             # the SciFact abstracts (5k)

Every figure is a ratio of medians measured in the same loop, the systems compared taking
turns query by query, so that the load of a shared machine hits both alike:

- ``qps_ratio``: raw FAISS (the same HNSW object, same ``efSearch``, prepared queries) over
  ``Collection.search`` (embedding given, rows fetched), with the row cache warm (the queries
  repeat) and cold (``cache_size=0``); the vector path alone (planner, no rows) too;
- ``filtered``: p50 of ``search(where=...)`` with planner ``auto`` over p50 of the unfiltered
  search, at selectivities 0.1 % to 50 %, for an uncorrelated filter (``bucket < s``) and an
  anti-correlated one (a slab of width ``s`` at the far end of the first principal axis), with
  the plan chosen and recall@10 against the exact filtered answer; the filter repeats across
  queries for the uncorrelated kind (the planner keeps its matches until the next write) and
  changes with every query for the anti-correlated kind (only the query's side chooses it).

Writes ``bench/results/vector_speed.json`` (or ``vector_speed_<dataset>.json``) with the CPU
and the load averages at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vector_data
from _common import save
from ponder.store.collection import Collection
from ponder.store.search import VectorSearch

K = 10
SELECTIVITIES = [0.001, 0.01, 0.05, 0.2, 0.5]
HNSW = {"m": 32, "ef_construction": 128, "ef_search": 64}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build(x: np.ndarray, bucket: np.ndarray, pos: np.ndarray) -> Collection:
    col = Collection.create(
        "speed", home=tempfile.mkdtemp(prefix="bench-speed-"), embedder=False,
        dim=x.shape[1], index="hnsw", **HNSW,
    )  # fmt: skip
    for i in range(0, len(x), 10000):
        rows = range(i, min(i + 10000, len(x)))
        col.add(
            ids=[f"d{r}" for r in rows],
            embeddings=x[i : i + len(rows)],
            metadatas=[{"bucket": int(bucket[r]), "pos": float(pos[r]), "title": f"row {r}"}
                       for r in rows],
        )  # fmt: skip
    return col


def interleaved(fns: dict[str, Any], n: int, rounds: int) -> dict[str, float]:
    """Median ms per call of each function, taking turns on every query; round 0 warms up."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds + 1):
        for i in range(n):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn(i)
                if r:
                    times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) * 1000 for name, t in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=30000, help="clustered vectors")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scifact", action="store_true", help="SciFact abstracts instead")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)
    load_start = os.getloadavg()
    if args.scifact:
        d = vector_data.scifact()
        x = np.ascontiguousarray(d["vectors"], dtype=np.float32)
        rng = np.random.default_rng(0)
        qs = d["queries"][rng.choice(len(d["queries"]), args.queries, replace=False)]
        name = f"scifact{len(x) // 1000}k"
    else:
        allx, _ = vector_data.clustered(args.n + args.queries)
        x, qs = allx[: args.n], allx[args.n :]
        name = f"clustered{args.n // 1000}k"
    x = np.ascontiguousarray(x, dtype=np.float32)
    qs = np.ascontiguousarray(qs, dtype=np.float32)
    rng = np.random.default_rng(1)
    bucket = rng.integers(0, 1000, len(x))
    centred = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    pc1 = np.linalg.svd(centred - centred.mean(0), full_matrices=False)[2][0]
    proj = x @ pc1
    pos = np.empty(len(x))
    pos[np.argsort(proj, kind="stable")] = np.arange(len(x)) / len(x)
    qpos = np.searchsorted(np.sort(proj), qs @ pc1) / len(x)
    log(f"{name}: writing {len(x)} vectors")
    col = build(x, bucket, pos)
    index = col.index_state.get()
    params = faiss.SearchParametersHNSW()
    params.efSearch = HNSW["ef_search"]
    prepared = index.prepare(qs)
    planner = col._vector_planner()
    cold = VectorSearch(col.catalog, cache_size=0)
    version = col.index_state.version
    nq = len(qs)

    log("unfiltered: raw FAISS vs Collection.search")
    p3 = interleaved({
        "faiss": lambda i: index.index.search(prepared[i : i + 1], K, params=params),
        "vector_path": lambda i: planner.search(index, qs[i], K, None, explain=False),
        "search": lambda i: col.search(embedding=qs[i], k=K),
        "search_cold_rows": lambda i: cold.run(index, version, qs[i : i + 1], K, None, "auto"),
    }, nq, args.rounds)  # fmt: skip
    qps = {
        "p50_ms": {k: round(v, 4) for k, v in p3.items()},
        "ratio_vector_path": round(p3["faiss"] / p3["vector_path"], 3),
        "ratio_search": round(p3["faiss"] / p3["search"], 3),
        "ratio_search_cold_rows": round(p3["faiss"] / p3["search_cold_rows"], 3),
    }
    log(f"  {json.dumps(qps)}")

    filtered: dict[str, Any] = {}
    for kind in ("uncorrelated", "anti-correlated"):
        filtered[kind] = {}
        for sel in SELECTIVITIES:
            if kind == "uncorrelated":
                wheres = [{"bucket": {"$lt": round(sel * 1000)}}] * nq
                masks = [bucket < round(sel * 1000)] * nq
            else:
                far = [(1 - sel, 2.0) if p < 0.5 else (-1.0, sel) for p in qpos]
                wheres = [{"pos": {"$gte": lo, "$lt": hi}} for lo, hi in far]
                masks = [(pos >= lo) & (pos < hi) for lo, hi in far]
            t = interleaved({
                "unfiltered": lambda i: col.search(embedding=qs[i], k=K),
                "filtered": lambda i, w=wheres: col.search(embedding=qs[i], k=K, where=w[i]),
            }, nq, args.rounds)  # fmt: skip
            recalls, plans = [], {}
            for i in range(nq):
                hits = col.search(embedding=qs[i], k=K, where=wheres[i], explain=True)
                rows = np.flatnonzero(masks[i])
                s = x[rows] @ qs[i]
                want = set(rows[np.argsort(-s)[:K]].tolist())
                got = {int(h.chunk.id[1:]) for h in hits}
                recalls.append(len(got & want) / max(len(want), 1))
                assert hits.plan is not None
                plans[hits.plan.strategy] = plans.get(hits.plan.strategy, 0) + 1
            filtered[kind][str(sel)] = {
                "ratio": round(t["filtered"] / t["unfiltered"], 2),
                "filtered_p50_ms": round(t["filtered"], 3),
                "unfiltered_p50_ms": round(t["unfiltered"], 3),
                "recall": round(float(np.mean(recalls)), 4),
                "plans": plans,
            }
            log(f"  {kind} {sel}: {json.dumps(filtered[kind][str(sel)])}")
    col.close()
    out = {
        "command": "bench/vector_speed.py " + " ".join(sys.argv[1:]),
        "dataset": name, "n": len(x), "dim": x.shape[1], "queries": nq, "k": K, "hnsw": HNSW,
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
        "qps_vs_faiss": qps, "filtered_vs_unfiltered": filtered,
    }  # fmt: skip
    save("vector_speed" if name.startswith("clustered30") else f"vector_speed_{name}", out)


if __name__ == "__main__":
    main()
