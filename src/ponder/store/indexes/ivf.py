"""Inverted-file indexes (FAISS ``IndexIVFFlat``): k-means cells (a Voronoi partition) and a
search that visits only the ``nprobe`` cells nearest the query.

Knobs: ``nlist`` (how many cells; automatic: about the square root of the number of vectors)
and ``nprobe`` (cells visited per search: the recall/latency dial; the planner raises it for
filtered searches).

IVF needs training on the collection's own vectors: at least ``39 * nlist`` of them. With fewer
it answers with exact search and says so (a ``ponder`` log warning and the plan's notices), then
trains by itself on the first search after enough vectors have arrived. With automatic
``nlist`` it also retrains when the collection has grown fourfold, so cells stay balanced.
``IVFIndex`` is also the base of the product-quantised types in ``pq.py``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> idx = IVFIndex(dim=8, metric="l2", nlist=4, nprobe=4)
>>> x = rng.normal(size=(200, 8)).astype(np.float32)
>>> idx.add(np.arange(100), x[:100])            # 100 < 39 * 4: not enough to train
>>> idx.maybe_train(), idx.fallback_reason
(False, 'ivf needs at least 156 vectors to train (it has 100); exact search until then')
>>> idx.add(np.arange(100, 200), x[100:])
>>> idx.maybe_train(), idx.fallback_reason
(True, None)
>>> int(idx.search(x[7:8], k=1)[1][0, 0])
7
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
from ponder.store.indexes.flat import FlatIndex, faiss_metric, read_index, write_atomic

log = logging.getLogger("ponder")
MIN_AUTO_NLIST = 8


def exact_scores(metric: str, q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Scores (higher is better) of prepared vectors ``x`` for one prepared query ``q``.

    >>> exact_scores("l1", np.array([0.0, 0.0]), np.array([[1.0, -2.0], [0.5, 0.5]])).tolist()
    [-3.0, -1.0]
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    q = np.ascontiguousarray(q, dtype=np.float32).reshape(-1)
    out = np.empty(len(x), dtype=np.float32)
    if not len(x):
        return out
    # FAISS's single-threaded SIMD kernels: no BLAS thread pool to wake (on a busy machine a
    # threaded BLAS matrix-vector product can be 100x slower than this)
    if metric in ("cosine", "dot"):
        faiss.fvec_inner_products_ny(
            faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(x), len(q), len(x)
        )
        return out
    if metric == "l2":
        faiss.fvec_L2sqr_ny(
            faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(x), len(q), len(x)
        )
        return -np.sqrt(np.maximum(out, 0, out=out), out=out)
    step = 16384
    for i in range(0, len(x), step):
        out[i : i + step] = -np.abs(x[i : i + step] - q).sum(axis=1)
    return out


class IVFIndex(VectorIndex):
    kind: ClassVar[str] = "ivf"
    exact: ClassVar[bool] = False
    needs_training: ClassVar[bool] = True
    gather_cost: ClassVar[float] = 2.0  # a hashtable lookup per vector
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("nlist", int, None, 1, 1 << 20, "number of cells; auto: about sqrt(n)"),
        Param("nprobe", int, None, 1, 1 << 20, "cells visited per search; auto: nlist/10, >= 16"),
    )

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        super().__init__(dim, metric, **params)
        self.ivf: faiss.IndexIVF | None = None
        self.fallback: FlatIndex | None = FlatIndex(dim, metric)
        self._warned = False
        self._trained_n = 0  # vectors at training (or at load): for retraining on growth
        self._plain: dict[int, faiss.SearchParametersIVF] = {}
        self._nlist_of: Any = None
        self._nlist = 0

    # ------------------------------------------------------------------ training
    def nlist_for(self, n: int) -> int:
        """The number of cells to train for ``n`` vectors (0: too few to train)."""
        nlist = self.param("nlist")
        if nlist is not None:
            return int(nlist) if n >= self.min_vectors(int(nlist)) else 0
        auto = min(max(MIN_AUTO_NLIST, round(math.sqrt(n))), n // 39)
        return auto if auto >= MIN_AUTO_NLIST and n >= self.min_vectors(auto) else 0

    def min_vectors(self, nlist: int) -> int:
        """Vectors needed to train ``nlist`` cells (FAISS wants 39 per centroid)."""
        return 39 * nlist

    @property
    def fallback_reason(self) -> str | None:
        if self.ivf is not None:
            return None
        return self._fallback_text(len(self))

    def _min_needed(self) -> int:
        return self.min_vectors(int(self.param("nlist") or MIN_AUTO_NLIST))

    def _should_retrain(self, n: int) -> bool:
        """Retrain when automatic settings were chosen for a collection a quarter this size."""
        return self.param("nlist") is None and n >= 4 * self._trained_n

    def _fallback_text(self, have: int) -> str:
        need = self._min_needed()
        return (
            f"{self.kind} needs at least {need} vectors to train (it has {have}); "
            "exact search until then"
        )

    def _warn_fallback(self, have: int | None = None) -> None:
        if not self._warned:
            self._warned = True
            log.warning("index %s", self._fallback_text(len(self) if have is None else have))

    def _new_index(self, nlist: int) -> faiss.IndexIVF:
        quantizer = faiss.IndexFlat(self.dim, faiss_metric(self.metric))
        return faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss_metric(self.metric))

    def train(self, vectors: np.ndarray) -> None:
        x = self.prepare(vectors) if len(vectors) else np.zeros((0, self.dim), np.float32)
        nlist = self.nlist_for(len(x))
        if not nlist:
            if len(x):  # an empty collection is not worth a warning; searches will say so
                self._warn_fallback(len(x))
            return
        ivf = self._new_index(nlist)
        ivf.cp.niter = 20
        ivf.cp.max_points_per_centroid = 64  # training sample: at most 64 vectors per cell
        ivf.cp.spherical = self.metric == "cosine"
        ivf.train(x)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        held = self.fallback
        self.ivf, self.fallback, self._trained_n = ivf, None, len(x)
        if held is not None and len(held):
            pks = held.pks()
            ivf.add_with_ids(held.reconstruct(pks), pks)

    def maybe_train(self) -> bool:
        n = len(self)
        if self.ivf is None:
            if self.fallback is not None and self.nlist_for(n):
                self.train(self.fallback.reconstruct(self.fallback.pks()))
                log.info("index %s: trained on %d vectors (nlist=%d)", self.kind, n, self.nlist)
                return True
            return False
        if self.vector_source is not None and self._should_retrain(n):
            pks = self.pks()  # grown fourfold since training: retrain for balanced cells
            vectors = self.vector_source(pks)
            old = self.nlist
            self.ivf, self.fallback = None, FlatIndex(self.dim, self.metric)
            self.train(vectors)
            if self.ivf is None:  # cannot happen with more vectors, but stay correct
                self.fallback.add(pks, vectors)
            else:
                self.ivf.add_with_ids(self.prepare(vectors), pks)
            log.info(
                "index %s: retrained for %d vectors (nlist %d -> %d)", self.kind, n, old, self.nlist
            )
            return True
        return False

    @property
    def nlist(self) -> int:
        if self.ivf is None:
            return 0
        if self._nlist_of is not self.ivf:  # cached: a SWIG attribute read costs microseconds
            self._nlist_of, self._nlist = self.ivf, int(self.ivf.nlist)
        return self._nlist

    def nprobe(self, effort: float = 1.0) -> int:
        base = self.param("nprobe")
        if base is None:
            base = min(self.nlist, max(16, math.ceil(self.nlist / 10)))
        return max(1, min(self.nlist, math.ceil(base * effort)))

    # ------------------------------------------------------------------ writes
    def add(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        if not len(pks):
            return
        if self.ivf is None:
            assert self.fallback is not None
            self.fallback.add(pks, vectors)
        else:
            self.ivf.add_with_ids(self.prepare(vectors), np.asarray(pks, dtype=np.int64))

    def remove(self, pks: np.ndarray) -> None:
        if not len(pks):
            return
        if self.ivf is None:
            assert self.fallback is not None
            self.fallback.remove(pks)
            return
        pks = np.unique(np.asarray(pks, dtype=np.int64))
        pks = pks[self._held(pks)]  # the hashtable map refuses unknown ids
        if len(pks):
            self.ivf.remove_ids(faiss.IDSelectorArray(pks))

    def _held(self, pks: np.ndarray) -> np.ndarray:
        """Which of ``pks`` the trained index holds (a boolean mask)."""
        assert self.ivf is not None
        if len(pks) > 256:
            return np.isin(pks, self.pks())
        dm = self.ivf.direct_map
        out = np.zeros(len(pks), dtype=bool)
        for i, pk in enumerate(pks.tolist()):
            try:
                dm.get(pk)
                out[i] = True
            except RuntimeError:
                pass
        return out

    # ------------------------------------------------------------------ search
    def knobs(self, effort: float = 1.0) -> dict[str, Any]:
        if self.ivf is None:
            return {"exact": "untrained"}
        return {"nprobe": self.nprobe(effort), "nlist": self.nlist}

    def cost(self, k: int, effort: float = 1.0) -> float:
        n = len(self)
        if self.ivf is None:
            return float(n)
        return self.nlist + n * self.nprobe(effort) / max(self.nlist, 1) * self._scan_cost

    _scan_cost: ClassVar[float] = 1.3  # per vector scanned, relative to a batched exact distance

    def _raw_search(
        self, q: np.ndarray, k: int, sel: Selection | None, effort: float
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.ivf is not None
        nprobe = self.nprobe(effort)
        if sel is None:  # reused: unfiltered searches allocate nothing in FAISS
            params = self._plain.get(nprobe)
            if params is None:
                params = self._plain[nprobe] = faiss.SearchParametersIVF()
                params.nprobe = nprobe
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe
            params.sel = sel.selector()
        stats = faiss.cvar.indexIVF_stats
        stats.reset()
        raw, ids = self.ivf.search(q, k, params=params)
        self.stats.knobs = {"nprobe": nprobe, "nlist": self.nlist}
        self.stats.scanned = int(stats.ndis)
        return raw, ids

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | Selection | None = None,
        effort: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.ivf is None:
            assert self.fallback is not None
            self._warn_fallback()
            out = self.fallback.search(queries, k, allowed=allowed)
            self.stats = self.fallback.stats
            return out
        sel = None
        if allowed is not None:
            sel = allowed if isinstance(allowed, Selection) else Selection(np.unique(allowed))
        raw, ids = self._raw_search(self.prepare(queries), k, sel, effort)
        scores = self.to_scores(raw)
        if (ids[:, -1] < 0).any():  # FAISS puts missing rows last
            scores[ids < 0] = -np.inf
        return scores, ids

    def reconstruct(self, pks: np.ndarray) -> np.ndarray | None:
        if self.ivf is None:
            assert self.fallback is not None
            return self.fallback.reconstruct(pks)
        if not len(pks):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.ivf.reconstruct_batch(np.asarray(pks, dtype=np.int64))

    def keeps_vectors(self) -> bool:
        return True

    def pks(self) -> np.ndarray:
        if self.ivf is None:
            assert self.fallback is not None
            return self.fallback.pks()
        invlists = self.ivf.invlists
        parts = [
            faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
            for i in range(self.ivf.nlist)
            if invlists.list_size(i)
        ]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        if self.ivf is None:
            return len(self.fallback) if self.fallback is not None else 0
        return int(self.ivf.ntotal)

    def memory_bytes(self) -> int:
        if self.ivf is None:
            return self.fallback.memory_bytes() if self.fallback is not None else 0
        return int(self.ivf.ntotal) * (self._code_size() + 8 + 24) + self.nlist * self.dim * 4

    def _code_size(self) -> int:
        return self.dim * 4

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(vectors=len(self), trained=self.ivf is not None, **self.knobs())
        if self.fallback_reason:
            out["notice"] = self.fallback_reason
        return out

    # ------------------------------------------------------------------ files
    def save(self, path: Path) -> None:
        write_atomic(self.ivf if self.ivf is not None else self.fallback.index, path)  # type: ignore[union-attr]

    _faiss_class: ClassVar[type] = faiss.IndexIVFFlat

    def _check_loaded(self, index: faiss.IndexIVF, path: Path) -> None:
        if not isinstance(index, self._faiss_class):
            raise VectorIndexError(
                f"index file {path} holds {type(index).__name__}, not {self.kind}"
            )

    @classmethod
    def load(cls, path: Path, dim: int, metric: str, **params: Any) -> IVFIndex:
        obj = cls(dim, metric, **params)
        index = read_index(path)
        if index.d != dim:
            raise VectorIndexError(f"index file {path} has dimension {index.d}, expected {dim}")
        if index.metric_type != faiss_metric(metric):
            raise VectorIndexError(f"index file {path} was built for another metric")
        if isinstance(index, faiss.IndexIDMap2):  # saved before it had enough vectors to train
            assert obj.fallback is not None
            obj.fallback.index = index
            obj.fallback._count = int(index.ntotal)
            return obj
        obj._check_loaded(index, path)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        obj.ivf, obj.fallback, obj._trained_n = index, None, int(index.ntotal)
        return obj
