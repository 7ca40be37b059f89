"""Vector indexes by name: ``make_index("hnsw", dim, "cosine", m=32)``.

======== =========================== ================ ==================================
type     FAISS index                 metrics          parameters
======== =========================== ================ ==================================
flat     IndexFlat (exact)           cosine dot l2 l1 none
hnsw     IndexHNSWFlat               cosine dot l2 l1 m ef_construction ef_search compact_at
ivf      IndexIVFFlat                cosine dot l2 l1 nlist nprobe
pq       IndexIVFPQ (one cell)       cosine dot l2    m nbits rerank
ivf-pq   IndexIVFPQ                  cosine dot l2    nlist nprobe m nbits rerank
======== =========================== ================ ==================================

>>> print(supported_pairs().replace("; ", chr(10)))
flat: cosine, dot, l2, l1
hnsw: cosine, dot, l2, l1
ivf: cosine, dot, l2, l1
pq: cosine, dot, l2
ivf-pq: cosine, dot, l2
"""

from __future__ import annotations

from typing import Any

from ponder.errors import ConfigError
from ponder.store.indexes.base import METRICS, Selection, VectorIndex, check_metric
from ponder.store.indexes.flat import FlatIndex
from ponder.store.indexes.hnsw import HNSWIndex
from ponder.store.indexes.ivf import IVFIndex, exact_scores
from ponder.store.indexes.pq import IVFPQIndex, PQIndex

INDEX_TYPES: dict[str, type[VectorIndex]] = {
    "flat": FlatIndex,
    "hnsw": HNSWIndex,
    "ivf": IVFIndex,
    "pq": PQIndex,
    "ivf-pq": IVFPQIndex,
}


def index_class(kind: str) -> type[VectorIndex]:
    try:
        return INDEX_TYPES[kind]
    except KeyError:
        raise ConfigError(
            f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}"
        ) from None


def supported_pairs() -> str:
    """Every index type with the metrics FAISS supports for it."""
    return "; ".join(f"{k}: {', '.join(c.metrics)}" for k, c in INDEX_TYPES.items())


def make_index(kind: str, dim: int, metric: str = "cosine", **params: Any) -> VectorIndex:
    return index_class(kind)(dim, metric, **params)


__all__ = [
    "INDEX_TYPES",
    "METRICS",
    "FlatIndex",
    "HNSWIndex",
    "IVFIndex",
    "IVFPQIndex",
    "PQIndex",
    "Selection",
    "VectorIndex",
    "check_metric",
    "exact_scores",
    "index_class",
    "make_index",
    "supported_pairs",
]
