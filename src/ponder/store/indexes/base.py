"""The vector-index extension point: subclass ``VectorIndex``.

Indexes map chunk primary keys (int64) to vectors and are *derived* data: the catalog is the
truth, and any index can be rebuilt from it. Scores follow one convention everywhere:
higher is better (``cosine``/``dot``: similarity; ``l2``/``l1``: the negated distance).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ponder.errors import ConfigError

METRICS = ("cosine", "dot", "l2", "l1")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def normalize(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class VectorIndex(ABC):
    """A searchable set of (pk, vector) pairs.

    Capabilities are class attributes: ``kind`` (its name), ``metrics`` (the metrics it
    supports), ``exact`` (returns the true nearest neighbours), ``needs_training``.
    """

    kind: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = METRICS
    exact: ClassVar[bool] = True
    needs_training: ClassVar[bool] = False

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        check_metric(metric)
        if metric not in self.metrics:
            raise ConfigError(
                f"index {self.kind!r} does not support metric {metric!r}; it supports "
                f"{', '.join(self.metrics)}"
            )
        self.dim = dim
        self.metric = metric
        self.params = params

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Vectors as the index stores them (unit length for cosine)."""
        x = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
        return normalize(x) if self.metric == "cosine" else x

    def to_scores(self, raw: np.ndarray) -> np.ndarray:
        """FAISS's raw distances to Ponder scores (higher is better)."""
        if self.metric in ("cosine", "dot"):
            return raw
        if self.metric == "l2":
            return -np.sqrt(np.maximum(raw, 0))
        return -raw

    @abstractmethod
    def add(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under their pks."""

    @abstractmethod
    def remove(self, pks: np.ndarray) -> None:
        """Remove pks (unknown pks are ignored)."""

    @abstractmethod
    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` per query as ``(scores, pks)``, pk ``-1`` where fewer exist.

        ``allowed``: when given, only these pks may be returned (exact over them for flat).
        """

    @abstractmethod
    def pks(self) -> np.ndarray:
        """Every pk held, sorted."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the index to ``path`` (atomically: write a temp file, then rename)."""

    @classmethod
    @abstractmethod
    def load(cls, path: Path, dim: int, metric: str, **params: Any) -> VectorIndex:
        """Read an index written by ``save``."""

    def __len__(self) -> int:
        return len(self.pks())
