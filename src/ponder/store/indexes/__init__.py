"""Vector indexes by name. ``make_index("flat", dim, metric)``."""

from __future__ import annotations

from typing import Any

from ponder.errors import ConfigError
from ponder.store.indexes.base import METRICS, VectorIndex, check_metric
from ponder.store.indexes.flat import FlatIndex

INDEX_TYPES: dict[str, type[VectorIndex]] = {"flat": FlatIndex}


def index_class(kind: str) -> type[VectorIndex]:
    try:
        return INDEX_TYPES[kind]
    except KeyError:
        raise ConfigError(
            f"unknown index type {kind!r}; choose one of {', '.join(INDEX_TYPES)}"
        ) from None


def make_index(kind: str, dim: int, metric: str = "cosine", **params: Any) -> VectorIndex:
    return index_class(kind)(dim, metric, **params)


__all__ = [
    "INDEX_TYPES",
    "METRICS",
    "FlatIndex",
    "VectorIndex",
    "check_metric",
    "index_class",
    "make_index",
]
