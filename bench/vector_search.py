"""Vector search benchmark: filtered recall, latency, overhead, QPS vs peers.

    .venv/bin/python bench/vector_search.py                          # everything (long)
    .venv/bin/python bench/vector_search.py --datasets scifact --queries 100
    .venv/bin/python bench/vector_search.py --report                 # rewrite the .md/.png

Data (``bench/vector_data.py``): SciFact abstracts and the stdlib docs embedded with MiniLM
(384-d), and synthetic clustered vectors for scale. Metadata per vector: ``bucket`` (uniform
0-999: an uncorrelated filter ``bucket < s*1000``) and ``pos`` (rank along the first principal
component, in [0, 1): a slab of width ``s`` around the query's own ``pos`` is a correlated
filter, a slab at the far end an anti-correlated one).

- P1: recall@10 against exact filtered search, and the share of queries that got ``k`` rows
  when ``k`` match, at selectivities 0.1% to 100% for each filter kind and system;
- P2: p50 latency of Ponder ``auto`` at each selectivity vs unfiltered;
- P3: Ponder's search QPS vs raw FAISS on the same index object, one thread (the queries
  repeat, so rows come from the row cache; ``*_cold_rows``: every row read from SQLite);
- P4: best QPS at recall@10 >= 0.95 (unfiltered, one query at a time) vs Chroma and LanceDB;
- build time and memory per Ponder index type; exact-scan rate vs the memory bandwidth.

Results: ``bench/results/vector_search.json`` (merged per dataset), ``vector_*.png`` and
``vector_search.md``. The machine is shared: figures are noisy, read them as indications.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vector_data
import vector_report
from ponder.store.collection import Collection
from ponder.store.indexes import make_index
from ponder.store.search import VectorSearch
from vector_systems import (
    ChromaSystem,
    FaissSelectorSystem,
    Filter,
    LanceSystem,
    PonderSystem,
    System,
)

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "vector_search.json"
SELECTIVITIES = [0.001, 0.01, 0.05, 0.2, 0.5, 1.0]
KINDS = ["uncorrelated", "correlated", "anti-correlated"]
K = 10
HNSW = {"m": 32, "ef_construction": 128, "ef_search": 64}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data & truth
def make_meta(x: np.ndarray, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), min(len(x), 20000), replace=False)]
    sample = sample - sample.mean(axis=0)
    pc1 = np.linalg.svd(sample, full_matrices=False)[2][0].astype(np.float32)
    proj = x @ pc1
    pos = np.empty(len(x))
    pos[np.argsort(proj, kind="stable")] = np.arange(len(x)) / len(x)
    meta = {"bucket": rng.integers(0, 1000, len(x)), "pos": np.round(pos, 9)}
    return meta, np.sort(proj).astype(np.float32), pc1  # type: ignore[return-value]


def query_pos(q: np.ndarray, sorted_proj: np.ndarray, pc1: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_proj, q @ pc1) / len(sorted_proj)


def make_filter(kind: str, sel: float, qpos: float) -> Filter:
    if kind == "uncorrelated" or sel >= 1.0:
        return Filter("bucket", 0, round(sel * 1000))
    if kind == "correlated":
        c = min(max(qpos, sel / 2), 1 - sel / 2)
        return Filter("pos", round(c - sel / 2, 9), round(c + sel / 2, 9))
    return Filter("pos", 1 - sel, 2.0) if qpos < 0.5 else Filter("pos", -1.0, sel)


def exact_top(x: np.ndarray, q: np.ndarray, mask: np.ndarray | None, k: int) -> list[int]:
    rows = np.flatnonzero(mask) if mask is not None else np.arange(len(x))
    if not len(rows):
        return []
    s = x[rows] @ q
    top = np.argpartition(-s, min(k, len(s)) - 1)[:k] if len(s) > k else np.arange(len(s))
    return rows[top[np.argsort(-s[top], kind="stable")]].tolist()


# ---------------------------------------------------------------------------- measuring
def run_p1(
    system: System, x: np.ndarray, meta: dict[str, np.ndarray], qs: np.ndarray,
    qpos: np.ndarray, truth: dict[tuple[str, float], list[list[int]]],
) -> dict[str, dict[str, dict[str, float]]]:  # fmt: skip
    out: dict[str, dict[str, dict[str, float]]] = {}
    for kind in KINDS:
        out[kind] = {}
        for sel in SELECTIVITIES:
            recalls, krows, times = [], [], []
            for i, q in enumerate(qs):
                flt = make_filter(kind, sel, float(qpos[i]))
                want = truth[(kind, sel)][i]
                t0 = time.perf_counter()
                got = system.search(q, K, flt)
                times.append(time.perf_counter() - t0)
                matches = int(flt.mask(meta).sum()) if len(want) < K else K
                recalls.append(len(set(got) & set(want)) / max(len(want), 1))
                krows.append(len(got) >= min(K, matches))
            out[kind][str(sel)] = {
                "recall": round(float(np.mean(recalls)), 4),
                "k_rows": round(float(np.mean(krows)), 4),
                "p50_ms": round(float(np.median(times)) * 1000, 3),
            }
        log(f"  {system.name} {kind}: " + " ".join(
            f"{s}:{out[kind][str(s)]['recall']:.2f}" for s in SELECTIVITIES))  # fmt: skip
    return out


def unfiltered(system: System, x: np.ndarray, qs: np.ndarray, truth: list[list[int]]) -> dict:
    times, recalls = [], []
    for q, want in zip(qs, truth, strict=True):
        t0 = time.perf_counter()
        got = system.search(q, K, None)
        times.append(time.perf_counter() - t0)
        recalls.append(len(set(got) & set(want)) / K)
    return {
        "recall": round(float(np.mean(recalls)), 4),
        "p50_ms": round(float(np.median(times)) * 1000, 3),
        "qps": round(len(qs) / sum(times), 1),
    }


def ponder_collection(home: Path, name: str, x: np.ndarray, meta: dict[str, np.ndarray]):
    col = Collection.create(name, home=home, embedder=False, dim=x.shape[1], index="flat")
    started = time.perf_counter()
    step = 10000
    for i in range(0, len(x), step):
        rows = range(i, min(i + step, len(x)))
        col.add(
            ids=[f"d{r}" for r in rows],
            embeddings=x[i : i + len(rows)],
            metadatas=[{"bucket": int(meta["bucket"][r]), "pos": float(meta["pos"][r])}
                       for r in rows],
        )  # fmt: skip
    log(f"  ponder: {len(x)} rows written in {time.perf_counter() - started:.1f}s")
    return col


def p3_overhead(col: Collection, qs: np.ndarray) -> dict[str, Any]:
    """QPS of Collection.search, of Ponder's vector path (no row fetch) and of raw FAISS on the
    same index object with the same parameters; one thread."""
    index = col.index_state.get()
    planner = col._vector_planner()
    prepared = index.prepare(qs)
    kind = index.kind
    if kind == "hnsw":
        raw_index = index.index
        params = faiss.SearchParametersHNSW()
        params.efSearch = index.knobs()["efSearch"]
    elif kind == "ivf":
        raw_index = index.ivf
        params = faiss.SearchParametersIVF()
        params.nprobe = index.nprobe()
    else:
        raw_index, params = index.index, None

    def raw(i: int) -> None:
        raw_index.search(prepared[i : i + 1], K, params=params)

    def vector_path(i: int) -> None:
        planner.search(index, qs[i], K, None, explain=False)

    def full(i: int) -> None:
        col.search(embedding=qs[i], k=K)

    cold = VectorSearch(col.catalog, cache_size=0)
    version = col.index_state.version

    def full_cold_rows(i: int) -> None:  # every row read from SQLite (no row cache)
        cold.run(index, version, qs[i : i + 1], K, None, "auto")

    out: dict[str, Any] = {"index": kind, "knobs": index.knobs()}
    fns = (("faiss", raw), ("ponder_vector_path", vector_path), ("ponder_search", full),
           ("ponder_search_cold_rows", full_cold_rows))  # fmt: skip
    for name, fn in fns:
        for i in range(min(20, len(qs))):
            fn(i)  # warm up
        best = 0.0
        for _ in range(3):
            t0 = time.perf_counter()
            for i in range(len(qs)):
                fn(i)
            best = max(best, len(qs) / (time.perf_counter() - t0))
        out[name] = round(best, 1)
    out["ratio_vector_path"] = round(out["ponder_vector_path"] / out["faiss"], 3)
    out["ratio_search"] = round(out["ponder_search"] / out["faiss"], 3)
    out["ratio_search_cold_rows"] = round(out["ponder_search_cold_rows"] / out["faiss"], 3)
    return out


def p4_sweep(system: System, qs: np.ndarray, truth: list[list[int]], efforts: list[int]) -> list:
    rows = []
    for e in efforts:
        system.set_effort(e)
        r = unfiltered(system, np.zeros(0), qs, truth)
        rows.append({"effort": e, **r})
        log(f"  P4 {system.name} effort={e}: recall {r['recall']:.3f} qps {r['qps']:.0f}")
    return rows


# ---------------------------------------------------------------------------- one dataset
def bench_dataset(name: str, x: np.ndarray, qs: np.ndarray, args: argparse.Namespace) -> dict:
    x = np.ascontiguousarray(x, dtype=np.float32)
    qs = np.ascontiguousarray(qs, dtype=np.float32)
    log(f"{name}: {len(x)} vectors x {x.shape[1]}, {len(qs)} queries")
    meta, sorted_proj, pc1 = make_meta(x)
    qpos = query_pos(qs, sorted_proj, pc1)
    truth = {
        (kind, sel): [exact_top(x, q, make_filter(kind, sel, float(qpos[i])).mask(meta), K)
                      for i, q in enumerate(qs)]
        for kind in KINDS for sel in SELECTIVITIES
    }  # fmt: skip
    truth_all = [exact_top(x, q, None, K) for q in qs]
    res: dict[str, Any] = {"n": len(x), "dim": x.shape[1], "queries": len(qs), "p1": {}}
    home = Path(tempfile.mkdtemp(prefix="bench-ponder-"))
    faiss.omp_set_num_threads(args.build_threads)

    # build time and memory per index type, on a collection of its own
    col_types = ponder_collection(home, "types", x, meta)
    res["build"] = {}
    faiss.omp_set_num_threads(1)
    res["p3"] = {"flat": p3_overhead(col_types, qs)}
    res["unfiltered"] = {"ponder-flat": unfiltered(PonderSystem(col_types), x, qs, truth_all)}
    faiss.omp_set_num_threads(args.build_threads)
    for kind in ["flat", "ivf", "pq", "ivf-pq"]:
        info = col_types.build_index(kind)
        res["build"][kind] = {k: info[k] for k in ("seconds", "memory_bytes", "settings")}
        log(f"  built {kind}: {info['seconds']:.1f}s {info['memory_bytes'] / 1e6:.1f} MB")
        if kind == "pq":
            faiss.omp_set_num_threads(1)
            s = PonderSystem(col_types)
            res["unfiltered"]["ponder-pq"] = unfiltered(s, x, qs, truth_all)
            faiss.omp_set_num_threads(args.build_threads)
    col_types.build_index("ivf")  # the IVF collection for P1/P3

    # the HNSW collection
    col = ponder_collection(home, "hnsw", x, meta)
    info = col.build_index("hnsw", **HNSW)
    res["build"]["hnsw"] = {k: info[k] for k in ("seconds", "memory_bytes", "settings")}
    log(f"  built hnsw: {info['seconds']:.1f}s")
    faiss.omp_set_num_threads(1)
    res["p3"]["hnsw"] = p3_overhead(col, qs)
    res["p3"]["ivf"] = p3_overhead(col_types, qs)
    log(f"  P3: {json.dumps(res['p3'])}")

    systems: list[System] = [PonderSystem(col, s) for s in ("auto", "pre", "in", "post")]
    systems.append(PonderSystem(col_types, "auto"))
    systems.append(FaissSelectorSystem(col.index_state.get().index, meta, HNSW["ef_search"]))
    peers: list[System] = []
    if not args.no_peers:
        faiss.omp_set_num_threads(args.build_threads)
        chroma = ChromaSystem(x, meta, HNSW["m"], HNSW["ef_construction"], HNSW["ef_search"])
        res["build"]["chroma-hnsw"] = {"seconds": chroma.build_s, "disk_bytes": chroma.disk_bytes}
        log(f"  built chroma: {chroma.build_s:.1f}s")
        lance = LanceSystem(x, meta, "IVF_HNSW_SQ", prefilter=True)
        res["build"]["lancedb-ivf_hnsw_sq"] = {"seconds": lance.build_s,
                                               "disk_bytes": lance.disk_bytes}  # fmt: skip
        log(f"  built lancedb: {lance.build_s:.1f}s")
        peers = [chroma, lance, LanceSystem(x, meta, "IVF_HNSW_SQ", False, shared=lance)]
        faiss.omp_set_num_threads(1)
    for s in systems + peers:
        res["unfiltered"][s.name] = unfiltered(s, x, qs, truth_all)
        res["p1"][s.name] = run_p1(s, x, meta, qs, qpos, truth)

    # P2: auto latency vs unfiltered
    auto = res["p1"]["ponder-hnsw-auto"]
    base = res["unfiltered"]["ponder-hnsw-auto"]["p50_ms"]
    res["p2"] = {"unfiltered_p50_ms": base, "ratios": {
        kind: {s: round(auto[kind][s]["p50_ms"] / base, 2) for s in auto[kind]} for kind in KINDS
    }}  # fmt: skip

    # P4: QPS at recall >= 0.95, unfiltered
    efforts = [16, 24, 32, 48, 64, 96, 128, 256]
    res["p4"] = {"ponder-hnsw": p4_sweep(PonderSystem(col, "auto"), qs, truth_all, efforts)}
    res["p4"]["faiss-hnsw"] = p4_sweep(systems[5], qs, truth_all, efforts)
    for p in peers[:2]:
        res["p4"][p.name] = p4_sweep(p, qs, truth_all, efforts)
    for p in peers:
        p.close()
    col.close()
    col_types.close()
    return res


def bench_scale(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """Exact-scan rate at scale vs the memory-bandwidth bound, and IVF at scale."""
    x, _ = vector_data.clustered(n)
    x = np.ascontiguousarray(x)
    log(f"scale: {n} x {x.shape[1]} ({x.nbytes / 1e9:.2f} GB)")
    out: dict[str, Any] = {"n": n, "dim": x.shape[1], "bytes": x.nbytes}
    view = x.view(np.uint32)
    view.max()
    t0 = time.perf_counter()
    for _ in range(3):
        view.max()
    read_s = (time.perf_counter() - t0) / 3
    out["read_bandwidth_gbs_1thread_numpy"] = round(x.nbytes / read_s / 1e9, 2)
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    qs = np.ascontiguousarray(x[:: max(1, n // 20)][:20] + 0.01)
    for threads in sorted({1, os.cpu_count() or 1}):
        faiss.omp_set_num_threads(threads)
        flat.search(qs[:1], K)
        t0 = time.perf_counter()
        for q in qs:
            flat.search(q[None, :], K)
        per = (time.perf_counter() - t0) / len(qs)
        out[f"exact_scan_vectors_per_s_{threads}t"] = round(n / per)
        out[f"exact_scan_ms_{threads}t"] = round(per * 1000, 2)
    out["bandwidth_bound_vectors_per_s_at_20gbs"] = round(20e9 / (x.shape[1] * 4))
    log(f"  scan: {json.dumps(out)}")
    faiss.omp_set_num_threads(args.build_threads)
    ivf = make_index("ivf", x.shape[1], "cosine")
    t0 = time.perf_counter()
    ivf.train(x)
    ivf.add(np.arange(n, dtype=np.int64), x)
    out["ivf_build_s"] = round(time.perf_counter() - t0, 1)
    out["ivf_knobs"] = ivf.knobs()
    faiss.omp_set_num_threads(1)
    truth = [flat.search(q[None, :], K)[1][0].tolist() for q in qs]
    for effort in (1, 2, 4):
        t0 = time.perf_counter()
        got = [ivf.search(q[None, :], K, effort=effort)[1][0].tolist() for q in qs]
        per = (time.perf_counter() - t0) / len(qs)
        rec = np.mean([len(set(a) & set(b)) / K for a, b in zip(got, truth, strict=True)])
        out[f"ivf_effort{effort}"] = {"knobs": ivf.knobs(effort), "recall": round(float(rec), 3),
                                      "ms": round(per * 1000, 2)}  # fmt: skip
    log(f"  ivf at scale: {json.dumps({k: v for k, v in out.items() if 'ivf' in k})}")
    return out


def environment() -> dict[str, Any]:
    import chromadb
    import lancedb

    cpu = ""
    if Path("/proc/cpuinfo").exists():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "chromadb": chromadb.__version__,
        "lancedb": lancedb.__version__,
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", default="scifact,stdlib,clustered,scale")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--n-clustered", type=int, default=200_000)
    ap.add_argument("--n-scale", type=int, default=1_000_000)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--no-peers", action="store_true", help="skip Chroma and LanceDB")
    ap.add_argument("--report", action="store_true", help="only rewrite the .md and plots")
    args = ap.parse_args()
    results: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() else {}
    if not args.report:
        results["command"] = "bench/vector_search.py " + " ".join(sys.argv[1:])
        results.setdefault("datasets", {})
        results["env"] = environment()
        rng = np.random.default_rng(0)
        for name in args.datasets.split(","):
            if name == "scale":
                results["scale"] = bench_scale(args.n_scale, args)
            else:
                if name == "scifact":
                    d = vector_data.scifact()
                    x, qs = d["vectors"], d["queries"]
                    qs = qs[rng.choice(len(qs), min(args.queries, len(qs)), replace=False)]
                elif name == "stdlib":
                    x = vector_data.stdlib()["vectors"]
                    pick = rng.choice(len(x), min(args.queries, len(x)), replace=False)
                    qs, x = x[pick], np.delete(x, pick, axis=0)  # held-out chunks as queries
                else:
                    allx, _ = vector_data.clustered(args.n_clustered + args.queries)
                    x, qs = allx[: args.n_clustered], allx[args.n_clustered :]  # unseen queries
                    name = f"clustered{args.n_clustered // 1000}k"
                results["datasets"][name] = bench_dataset(name, np.asarray(x), qs, args)
            results["env"]["load_average_at_end"] = os.getloadavg()
            OUT.write_text(json.dumps(results, indent=1))
            log(f"saved {OUT}")
    vector_report.write(results, RESULTS)
    log(f"wrote {RESULTS / 'vector_search.md'}")


if __name__ == "__main__":
    main()
