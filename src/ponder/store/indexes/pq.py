"""Product quantisation (FAISS ``IndexIVFPQ``): vectors compressed to ``m`` codes of ``nbits``
bits each (384 floats = 1,536 bytes become 96 bytes with ``m=96, nbits=8``).

- ``pq``: exhaustive search over the codes (one cell: ``IndexIVFPQ`` with ``nlist=1``, which,
  unlike ``IndexPQ``, lets FAISS filter during the search);
- ``ivf-pq``: the codes inside IVF cells (``nlist``/``nprobe`` as for ``ivf``).

Quantised distances are approximate: with ``rerank=R`` (default 4) the ``k * R`` best
candidates are re-scored exactly with their vectors read from the catalog, which restores
most of the recall at little cost; ``rerank=0`` turns it off. Training needs at least
``2**nbits`` vectors (and ``39 * nlist`` for ``ivf-pq``); with fewer, exact search is used and
a notice says so. L1 is not offered: FAISS's PQ computes only L2 and inner-product tables.

>>> default_m(384), default_m(16), default_m(10)
(96, 4, 2)
"""

from __future__ import annotations

from typing import Any, ClassVar

import faiss
import numpy as np

from ponder.errors import ConfigError, VectorIndexError
from ponder.store.indexes.base import Param, Selection
from ponder.store.indexes.flat import faiss_metric
from ponder.store.indexes.ivf import IVFIndex, exact_scores


def default_m(dim: int) -> int:
    """The largest divisor of ``dim`` not above ``dim / 4`` (4 dimensions per code)."""
    return max(m for m in range(1, max(1, dim // 4) + 1) if dim % m == 0)


_PQ_PARAMS = (
    Param("m", int, None, 1, 4096, "sub-quantizers, must divide the dimension; auto: dim/4"),
    Param("nbits", int, 8, 4, 12, "bits per code"),
    Param("rerank", int, 4, 0, 1000, "re-score k*rerank candidates exactly; 0: off"),
)


class IVFPQIndex(IVFIndex):
    kind: ClassVar[str] = "ivf-pq"
    metrics: ClassVar[tuple[str, ...]] = ("cosine", "dot", "l2")
    PARAMS: ClassVar[tuple[Param, ...]] = IVFIndex.PARAMS + _PQ_PARAMS
    _faiss_class: ClassVar[type] = faiss.IndexIVFPQ
    _scan_cost: ClassVar[float] = 0.25  # a code is scored by table lookups

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        super().__init__(dim, metric, **params)
        m = self.pq_m
        if dim % m:
            divisors = [d for d in range(1, dim + 1) if dim % d == 0 and d <= dim // 2]
            raise ConfigError(
                f"index {self.kind!r}: m={m} must divide the dimension {dim}; "
                f"try one of {', '.join(map(str, divisors[-6:]))}"
            )

    @property
    def pq_m(self) -> int:
        return int(self.param("m") or default_m(self.dim))

    def min_vectors(self, nlist: int) -> int:
        return max(39 * nlist, 2 ** int(self.param("nbits")))

    def _should_retrain(self, n: int) -> bool:
        undertrained = self._trained_n < 39 * 2 ** int(self.param("nbits"))
        return n >= 4 * self._trained_n and (undertrained or super()._should_retrain(n))

    def _new_index(self, nlist: int) -> faiss.IndexIVF:
        quantizer = faiss.IndexFlat(self.dim, faiss_metric(self.metric))
        ivf = faiss.IndexIVFPQ(
            quantizer,
            self.dim,
            nlist,
            self.pq_m,
            int(self.param("nbits")),
            faiss_metric(self.metric),
        )
        ivf.pq.cp.min_points_per_centroid = 1  # small collections: no FAISS stderr warning
        ivf.pq.cp.niter = 10  # codebooks converge fast; 25 iterations cost 2.5x the time
        return ivf

    def _code_size(self) -> int:
        return (self.pq_m * int(self.param("nbits")) + 7) // 8

    def reconstruct(self, pks: np.ndarray) -> np.ndarray | None:
        return super().reconstruct(pks) if self.ivf is None else None  # codes are lossy

    def keeps_vectors(self) -> bool:
        return self.ivf is None

    def knobs(self, effort: float = 1.0) -> dict[str, Any]:
        out = super().knobs(effort)
        if self.ivf is not None:
            out["rerank"] = int(self.param("rerank"))
        return out

    def cost(self, k: int, effort: float = 1.0) -> float:
        # re-ranking reads k * rerank vectors from the catalog (~20 distance units each)
        return super().cost(k, effort) + 20.0 * k * int(self.param("rerank"))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | Selection | None = None,
        effort: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        rerank = int(self.param("rerank"))
        if self.ivf is None or not rerank or self.vector_source is None:
            return super().search(queries, k, allowed=allowed, effort=effort)
        q = self.prepare(queries)
        sel = None
        if allowed is not None:
            sel = allowed if isinstance(allowed, Selection) else Selection(np.unique(allowed))
        fetch = max(k, k * rerank)
        _, ids = self._raw_search(q, fetch, sel, effort)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        out = np.full((len(q), k), -1, dtype=np.int64)
        for i in range(len(q)):
            cand = ids[i][ids[i] >= 0]
            if not len(cand):
                continue
            s = exact_scores(self.metric, q[i], self.prepare(self.vector_source(cand)))
            order = np.argsort(-s, kind="stable")[:k]
            scores[i, : len(order)] = s[order]
            out[i, : len(order)] = cand[order]
        self.stats.knobs["rerank"] = fetch
        return scores, out


class PQIndex(IVFPQIndex):
    kind: ClassVar[str] = "pq"
    PARAMS: ClassVar[tuple[Param, ...]] = _PQ_PARAMS

    def nlist_for(self, n: int) -> int:
        return 1 if n >= self.min_vectors(1) else 0

    def _min_needed(self) -> int:
        return self.min_vectors(1)

    def _should_retrain(self, n: int) -> bool:
        return n >= 4 * self._trained_n and self._trained_n < 39 * 2 ** int(self.param("nbits"))

    def nprobe(self, effort: float = 1.0) -> int:
        return 1

    def knobs(self, effort: float = 1.0) -> dict[str, Any]:
        out = super().knobs(effort)
        out.pop("nprobe", None)
        out.pop("nlist", None)
        return out

    def _check_loaded(self, index: faiss.IndexIVF, path: Any) -> None:
        super()._check_loaded(index, path)
        if index.nlist != 1:
            raise VectorIndexError(f"index file {path} is ivf-pq, not pq")
