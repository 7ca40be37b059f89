"""Exact search with FAISS flat indexes (inner product for cosine/dot, L2, L1).

>>> import numpy as np
>>> idx = FlatIndex(dim=2, metric="l2")
>>> idx.add(np.array([10, 20]), np.array([[0, 0], [3, 4]], dtype=np.float32))
>>> scores, pks = idx.search(np.array([[3, 4]], dtype=np.float32), k=2)
>>> pks.tolist(), scores.round(3).tolist()
([[20, 10]], [[-0.0, -5.0]])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from ponder.errors import VectorIndexError
from ponder.store.indexes.base import Selection, VectorIndex

_FAISS_METRIC = {
    "cosine": faiss.METRIC_INNER_PRODUCT,
    "dot": faiss.METRIC_INNER_PRODUCT,
    "l2": faiss.METRIC_L2,
    "l1": faiss.METRIC_L1,
}


def faiss_metric(metric: str) -> int:
    return _FAISS_METRIC[metric]


def write_atomic(index: faiss.Index, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)


def read_index(path: Path) -> faiss.Index:
    try:
        return faiss.read_index(str(path))
    except (RuntimeError, OSError) as e:
        raise VectorIndexError(f"cannot read index file {path}: {str(e).splitlines()[0]}") from e


class FlatIndex(VectorIndex):
    kind: ClassVar[str] = "flat"
    exact: ClassVar[bool] = True
    gather_cost: ClassVar[float] = 0.0  # ``exact_top`` scores the stored rows in place

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        super().__init__(dim, metric, **params)  # no PARAMS: any parameter is an error
        self.index = faiss.IndexIDMap2(faiss.IndexFlat(dim, faiss_metric(metric)))
        self._count = 0  # = index.ntotal, without a SWIG call on the search path
        self._lookup: tuple[np.ndarray, ...] | None = None  # row -> pk, sorted pks, their rows

    def add(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        if len(pks):
            self.index.add_with_ids(self.prepare(vectors), np.asarray(pks, dtype=np.int64))
            self._count = int(self.index.ntotal)
            self._lookup = None

    def remove(self, pks: np.ndarray) -> None:
        if len(pks):
            self.index.remove_ids(np.asarray(pks, dtype=np.int64))
            self._count = int(self.index.ntotal)
            self._lookup = None

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | Selection | None = None,
        effort: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        q = self.prepare(queries)
        if allowed is None:
            raw, ids = self.index.search(q, k)
        else:
            sel = allowed if isinstance(allowed, Selection) else Selection(np.unique(allowed))
            raw, ids = self.index.search(q, k, params=faiss.SearchParameters(sel=sel.selector()))
        self.stats.knobs = {}
        self.stats.scanned = self._count * len(q)
        scores = self.to_scores(raw)
        if (ids[:, -1] < 0).any():  # FAISS puts missing rows last
            scores[ids < 0] = -np.inf
        return scores, ids

    def reconstruct(self, pks: np.ndarray) -> np.ndarray:
        if not len(pks):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.index.reconstruct_batch(np.asarray(pks, dtype=np.int64))

    def keeps_vectors(self) -> bool:
        return True

    def exact_top(
        self, query: np.ndarray, pks: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        if not len(pks):
            return np.full(k, -np.inf, np.float32), np.full(k, -1, np.int64)
        if self._lookup is None:
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            order = np.argsort(ids, kind="stable")
            self._lookup = (ids, ids[order], order)
        ids, keys, rows = self._lookup
        pks = np.asarray(pks, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, pks), max(len(keys) - 1, 0))
        if not len(keys) or not np.array_equal(keys[pos], pks):
            raise VectorIndexError("exact_top: some pks are not in the flat index")
        return self._top_rows(faiss.downcast_index(self.index.index), query, rows[pos], ids, k)

    def memory_bytes(self) -> int:
        return self.index.ntotal * (self.dim * 4 + 16)

    def __len__(self) -> int:
        return self._count

    def pks(self) -> np.ndarray:
        return np.sort(faiss.vector_to_array(self.index.id_map).astype(np.int64))

    def save(self, path: Path) -> None:
        write_atomic(self.index, path)

    @classmethod
    def load(cls, path: Path, dim: int, metric: str, **params: Any) -> FlatIndex:
        obj = cls(dim, metric, **params)
        index = read_index(path)
        if index.d != dim:
            raise VectorIndexError(f"index file {path} has dimension {index.d}, expected {dim}")
        obj.index = (
            faiss.downcast_index(index) if not isinstance(index, faiss.IndexIDMap2) else index
        )
        if not isinstance(obj.index, faiss.IndexIDMap2):
            raise VectorIndexError(f"index file {path} is not a flat ID-mapped index")
        obj._count = int(obj.index.ntotal)
        obj._lookup = None
        return obj
