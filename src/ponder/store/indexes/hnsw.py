"""HNSW graphs (FAISS ``IndexHNSWFlat``): fast approximate search that keeps the exact vectors.

Knobs: ``m`` (graph degree M: more is better recall, more memory and build time),
``ef_construction`` (beam width while building) and ``ef_search`` (beam width while searching:
the recall/latency dial; the planner raises it for filtered searches).

FAISS cannot remove a node from an HNSW graph. A removed pk becomes a *tombstone*: its entry in
the id map is set to ``-1`` (so it is saved with the index), searches skip it, and when
tombstones pass ``compact_at`` (default 20%) of the graph it is rebuilt from the live vectors.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> idx = HNSWIndex(dim=8, metric="l2", m=8)
>>> idx.add(np.arange(100), rng.normal(size=(100, 8)).astype(np.float32))
>>> idx.remove(np.array([0, 1, 2]))
>>> len(idx), idx.tombstones()
(97, 3)
>>> _, pks = idx.search(idx.reconstruct(np.array([5])), k=3)
>>> int(pks[0, 0]), bool(np.isin(pks, [0, 1, 2]).any())
(5, False)
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from ponder.errors import VectorIndexError
from ponder.store.indexes.base import Param, Selection, VectorIndex
from ponder.store.indexes.flat import faiss_metric, read_index, write_atomic

log = logging.getLogger("ponder")
_LIVE = 2**62  # pks are below this; tombstoned slots carry id -1
_STATS = faiss.cvar.hnsw_stats  # FAISS's global HNSW counters (distances computed)


class HNSWIndex(VectorIndex):
    kind: ClassVar[str] = "hnsw"
    exact: ClassVar[bool] = False
    gather_cost: ClassVar[float] = 0.0  # ``exact_top`` scores the stored rows in place
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("m", int, 32, 4, 256, "graph degree M"),
        Param("ef_construction", int, 128, 8, 4096, "beam width while building"),
        Param("ef_search", int, 64, 1, 1 << 20, "beam width while searching"),
        Param("compact_at", float, 0.2, 0.01, 0.9, "tombstone fraction that triggers a rebuild"),
    )

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        super().__init__(dim, metric, **params)
        self.index = self._empty()
        self._dead = 0
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None  # sorted pks, their labels
        self._plain: dict[int, faiss.SearchParametersHNSW] = {}

    def _empty(self) -> faiss.IndexIDMap:
        inner = faiss.IndexHNSWFlat(self.dim, self.param("m"), faiss_metric(self.metric))
        inner.hnsw.efConstruction = self.param("ef_construction")
        inner.hnsw.efSearch = self.param("ef_search")
        return faiss.IndexIDMap(inner)

    @property
    def graph(self) -> faiss.IndexHNSWFlat:
        return faiss.downcast_index(self.index.index)

    def _ids(self) -> np.ndarray:
        """A writable view of the id map (label -> pk, -1 for a tombstone)."""
        n = self.index.id_map.size()
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return faiss.rev_swig_ptr(self.index.id_map.data(), n)

    # ------------------------------------------------------------------ writes
    def add(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        if len(pks):
            self.index.add_with_ids(self.prepare(vectors), np.asarray(pks, dtype=np.int64))
            self._lookup = None

    def remove(self, pks: np.ndarray) -> None:
        if not len(pks):
            return
        ids = self._ids()
        hit = np.flatnonzero(np.isin(ids, np.asarray(pks, dtype=np.int64)))
        if not len(hit):
            return
        ids[hit] = -1
        self._dead += len(hit)
        self._lookup = None
        if self._dead > self.param("compact_at") * self.index.ntotal:
            self.compact()

    def compact(self) -> None:
        """Rebuild the graph from the live vectors, dropping every tombstone."""
        ids = self._ids()
        live = np.flatnonzero(ids >= 0)
        vectors = self._vectors_at(live)
        pks = ids[live].copy()
        dropped = self._dead
        self.index = self._empty()
        self._dead = 0
        self._lookup = None
        if len(live):
            self.index.add_with_ids(vectors, pks)
        log.info("hnsw index: compacted %d tombstones (%d vectors kept)", dropped, len(live))

    # ------------------------------------------------------------------ reads
    def _vectors_at(self, labels: np.ndarray) -> np.ndarray:
        if not len(labels):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.graph.reconstruct_batch(np.asarray(labels, dtype=np.int64))

    def _labels(self, pks: np.ndarray) -> np.ndarray:
        """The graph labels of ``pks`` (all must be live)."""
        if self._lookup is None:
            ids = self._ids()
            live = np.flatnonzero(ids >= 0)
            order = np.argsort(ids[live], kind="stable")
            self._lookup = (ids[live][order], live[order])
        keys, labels = self._lookup
        pks = np.asarray(pks, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, pks), max(len(keys) - 1, 0))
        if not len(keys) or not np.array_equal(keys[pos], pks):
            raise VectorIndexError("reconstruct: some pks are not in the hnsw index")
        return labels[pos]

    def reconstruct(self, pks: np.ndarray) -> np.ndarray:
        if not len(pks):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._vectors_at(self._labels(pks))

    def exact_top(
        self, query: np.ndarray, pks: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if not len(pks):
            return np.full(k, -np.inf, np.float32), np.full(k, -1, np.int64)
        storage = faiss.downcast_index(self.graph.storage)
        return self._top_rows(storage, query, self._labels(pks), self._ids(), k)

    def keeps_vectors(self) -> bool:
        return True

    def knobs(self, effort: float = 1.0) -> dict[str, Any]:
        return {"efSearch": max(1, math.ceil(self.param("ef_search") * effort))}

    def cost(self, k: int, effort: float = 1.0) -> float:
        ef = max(k, self.knobs(effort)["efSearch"])
        # FAISS reports about 0.45 * ef * M distances per search (measured on MiniLM vectors),
        # each a random access costing ~2.5x a sequential exact distance
        return min(float(ef * self.param("m") * 1.2), 2.5 * len(self))

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | Selection | None = None,
        effort: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        q = self.prepare(queries)
        ef = max(k, math.ceil(self.param("ef_search") * effort))
        keep: Any = None
        if allowed is None and not self._dead:
            params = self._plain.get(ef)
            if params is None:  # reused: unfiltered searches allocate nothing in FAISS
                params = self._plain[ef] = faiss.SearchParametersHNSW()
                params.efSearch = ef
        else:
            params = faiss.SearchParametersHNSW()
            params.efSearch = ef
            if allowed is not None:
                sel = allowed if isinstance(allowed, Selection) else Selection(np.unique(allowed))
                keep = sel
                params.sel = sel.selector()
            else:
                keep = faiss.IDSelectorRange(0, _LIVE)  # tombstones carry id -1: out of range
                params.sel = keep
        stats = _STATS
        stats.reset()
        raw, ids = self.index.search(q, k, params=params)
        del keep
        self.stats.knobs = {"efSearch": ef}
        self.stats.scanned = int(stats.ndis)
        scores = raw if self.metric in ("cosine", "dot") else self.to_scores(raw)
        if (ids[0, -1] < 0 if len(ids) == 1 else (ids[:, -1] < 0).any()):
            scores[ids < 0] = -np.inf  # FAISS puts missing rows last
        return scores, ids

    def pks(self) -> np.ndarray:
        ids = self._ids()
        return np.sort(ids[ids >= 0])

    def tombstones(self) -> int:
        return self._dead

    def memory_bytes(self) -> int:
        n = self.index.ntotal
        return n * (self.dim * 4 + self.param("m") * 2 * 4 + 8 + 8)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(vectors=len(self), tombstones=self._dead)
        return out

    def __len__(self) -> int:
        return int(self.index.ntotal) - self._dead

    # ------------------------------------------------------------------ files
    def save(self, path: Path) -> None:
        write_atomic(self.index, path)

    @classmethod
    def load(cls, path: Path, dim: int, metric: str, **params: Any) -> HNSWIndex:
        obj = cls(dim, metric, **params)
        index = read_index(path)
        if not isinstance(index, faiss.IndexIDMap) or index.d != dim:
            raise VectorIndexError(f"index file {path} is not an hnsw index of dimension {dim}")
        inner = faiss.downcast_index(index.index)
        if not isinstance(inner, faiss.IndexHNSWFlat):
            raise VectorIndexError(f"index file {path} holds {type(inner).__name__}, not HNSW")
        if inner.metric_type != faiss_metric(metric):
            raise VectorIndexError(f"index file {path} was built for another metric")
        inner.hnsw.efSearch = obj.param("ef_search")
        obj.index = index
        obj._dead = int((obj._ids() < 0).sum())
        return obj
