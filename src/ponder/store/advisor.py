"""Which index for this collection? Measure the candidates on its own vectors, then choose.

``advise(collection, recall=0.95)`` builds every candidate configuration (flat; HNSW over ``m``
and ``ef_search``; IVF over ``nprobe``; PQ and IVF-PQ over ``rerank``) on the collection's
vectors, runs sampled queries (stored vectors; each query's own row is left out of both the
answer and the truth) one at a time on one thread, and records recall@k against exact search,
p50 latency, memory and build time. The pick is the fastest configuration that reaches the
recall target (ties: less memory); exact search when none does. ``plot`` draws the
recall-vs-latency chart with the Pareto front; ``Collection.build_index(pick.kind,
**pick.params)`` applies it (``ponder index advise --apply``).

Collections above ``max_vectors`` are measured on a random sample of that size (say so when
reporting: recall at full scale is usually a little lower and latency higher).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from ponder.errors import InputError
from ponder.store.indexes import index_class, make_index

if TYPE_CHECKING:
    from ponder.store.collection import Collection


@dataclass
class Measurement:
    """One configuration measured: its settings and what it costs and returns."""

    kind: str
    params: dict[str, Any]
    recall: float
    p50_ms: float
    memory_bytes: int
    build_s: float
    pareto: bool = False

    @property
    def label(self) -> str:
        ps = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind}({ps})" if ps else self.kind


@dataclass
class Advice:
    target: float
    k: int
    vectors: int
    sampled: bool
    queries: int
    measurements: list[Measurement]
    pick: Measurement
    notes: list[str] = field(default_factory=list)

    def pareto(self) -> list[Measurement]:
        return sorted((m for m in self.measurements if m.pareto), key=lambda m: m.p50_ms)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pick"]["label"] = self.pick.label
        return out


def _grid(n: int, dim: int, metric: str) -> list[tuple[str, dict[str, Any], str, list[Any]]]:
    """(kind, build params, search knob, knob values) for a collection of ``n`` vectors."""
    grid: list[tuple[str, dict[str, Any], str, list[Any]]] = [("flat", {}, "", [None])]
    efs = [16, 32, 64, 128, 256]
    grid += [("hnsw", {"m": m}, "ef_search", efs) for m in (16, 32)]
    nlist = max(8, min(round(math.sqrt(n)), n // 39))
    if n >= 39 * nlist:
        probes = [p for p in (1, 2, 4, 8, 16, 32, 64, 128) if p <= nlist]
        grid.append(("ivf", {"nlist": nlist}, "nprobe", probes))
    if metric in index_class("pq").metrics and n >= 256:
        m = index_class("pq")(dim, metric).pq_m  # type: ignore[attr-defined]
        grid.append(("pq", {"m": m}, "rerank", [0, 4, 16]))
        if n >= max(39 * nlist, 256):
            p = min(nlist, max(16, math.ceil(nlist / 10)))
            grid += [
                ("ivf-pq", {"nlist": nlist, "m": m, "nprobe": pp}, "rerank", [4, 16])
                for pp in sorted({p, min(nlist, 4 * p)})
            ]
    return grid


def _mark_pareto(ms: list[Measurement]) -> None:
    """Flag the configurations no other one beats on both recall and latency.

    >>> ms = [Measurement("a", {}, 0.9, 1.0, 0, 0), Measurement("b", {}, 0.8, 2.0, 0, 0)]
    >>> _mark_pareto(ms); [m.pareto for m in ms]
    [True, False]
    """
    for a in ms:
        a.pareto = not any(
            (b.recall >= a.recall and b.p50_ms <= a.p50_ms)
            and (b.recall > a.recall or b.p50_ms < a.p50_ms)
            for b in ms
        )


def advise(
    collection: Collection,
    *,
    recall: float = 0.95,
    queries: int = 100,
    k: int = 10,
    max_vectors: int = 200_000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Advice:
    """Measure the candidate indexes on ``collection``'s vectors; see the module docstring."""
    if not 0 < recall <= 1:
        raise InputError(f"the recall target must be in (0, 1], got {recall}")
    pks, x = collection.catalog.all_vectors(collection.dim)
    n_all = len(pks)
    if n_all < 2:
        raise InputError(
            f"collection {collection.name!r} has {n_all} vectors; advising needs at least 2: "
            "add documents first"
        )
    small = n_all < 2 * k
    if small:  # too few vectors for recall@k: measure recall at a k the collection can give
        k = max(1, n_all // 2)
    rng = np.random.default_rng(seed)
    sampled = n_all > max_vectors
    if sampled:
        keep = np.sort(rng.choice(n_all, max_vectors, replace=False))
        pks, x = pks[keep], x[keep]
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows = rng.choice(len(x), min(queries, len(x)), replace=False)
    metric = collection.metric
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        exact = make_index("flat", collection.dim, metric)
        exact.add(pks, x)
        truth = [_without(exact.search(x[r : r + 1], k + 1)[1][0], pks[r], k) for r in rows]
        out: list[Measurement] = []
        by_pk = {int(p): i for i, p in enumerate(pks)}

        def source(want: np.ndarray) -> np.ndarray:
            return x[[by_pk[int(p)] for p in want]]

        for kind, params, knob, values in _grid(len(x), collection.dim, metric):
            if progress:
                progress(f"building {kind} {params}")
            index = make_index(kind, collection.dim, metric, **params)
            index.vector_source = source
            started = time.perf_counter()
            if index.needs_training:
                index.train(x)
            index.add(pks, x)
            build_s = time.perf_counter() - started
            for value in values:
                if knob:
                    index.params[knob] = value
                got, times = [], []
                for r in rows:
                    t0 = time.perf_counter()
                    ids = index.search(x[r : r + 1], k + 1)[1][0]
                    times.append(time.perf_counter() - t0)
                    got.append(_without(ids, pks[r], k))
                pairs = zip(got, truth, strict=True)
                rec = float(np.mean([len(set(g) & set(t)) / max(len(t), 1) for g, t in pairs]))
                out.append(
                    Measurement(
                        kind=kind,
                        params=dict(index.params),
                        recall=round(rec, 4),
                        p50_ms=round(float(np.median(times)) * 1000, 4),
                        memory_bytes=index.memory_bytes(),
                        build_s=round(build_s, 3),
                    )
                )
    finally:
        faiss.omp_set_num_threads(threads)
    _mark_pareto(out)
    good = [m for m in out if m.recall >= recall]
    notes = []
    if good:
        pick = min(good, key=lambda m: (m.p50_ms, m.memory_bytes))
    else:
        pick = next(m for m in out if m.kind == "flat")
        notes.append(f"no approximate configuration reached recall {recall}: exact search")
    if small:
        notes.append(
            f"only {n_all} vectors: recall measured at k={k}; exact search (flat) is the right "
            "index at this size anyway"
        )
    if sampled:
        notes.append(
            f"measured on a random sample of {max_vectors} of {n_all} vectors: expect a little "
            "less recall and more latency at full size"
        )
    return Advice(recall, k, n_all, sampled, len(rows), out, pick, notes)


def _without(ids: np.ndarray, self_pk: int, k: int) -> list[int]:
    return [int(i) for i in ids if i >= 0 and i != self_pk][:k]


def plot(advice: Advice, path: str | Path, title: str = "") -> Path:
    """Recall@k vs p50 latency for every configuration, Pareto front joined, pick circled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(8, 5))
    kinds = sorted({m.kind for m in advice.measurements})
    for kind in kinds:
        ms = [m for m in advice.measurements if m.kind == kind]
        ax.scatter([m.p50_ms for m in ms], [m.recall for m in ms], label=kind, s=28)
    front = advice.pareto()
    ax.plot([m.p50_ms for m in front], [m.recall for m in front], "k--", lw=0.8, label="Pareto")
    ax.scatter(
        [advice.pick.p50_ms], [advice.pick.recall], s=220, facecolors="none",
        edgecolors="red", label=f"pick: {advice.pick.label}",
    )  # fmt: skip
    ax.axhline(advice.target, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency per query, ms (one thread, log scale)")
    ax.set_ylabel(f"recall@{advice.k} vs exact")
    ax.set_title(title or f"{advice.vectors} vectors, {advice.queries} sampled queries")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
