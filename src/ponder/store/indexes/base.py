"""The vector-index extension point: subclass ``VectorIndex``.

Indexes map chunk primary keys (int64) to vectors and are *derived* data: the catalog is the
truth, and any index can be rebuilt from it. Scores follow one convention everywhere:
higher is better (``cosine``/``dot``: similarity; ``l2``/``l1``: the negated distance).

An index declares its parameters (``PARAMS``), the metrics it supports, whether it is exact,
whether it needs training and whether FAISS can filter inside its search (``supports_selector``).
The query planner (``ponder.store.planner``) drives it through four calls: ``search`` (with an
optional ``allowed`` set and an ``effort`` multiplier of its search knobs), ``reconstruct``
(exact vectors for pre-filtering, or ``None``), ``knobs`` and ``cost``.

>>> p = check_params("hnsw", (Param("m", int, 32, 2, 512, "graph degree"),), {"m": 16})
>>> p
{'m': 16}
>>> check_params("hnsw", (Param("m", int, 32, 2, 512, "graph degree"),), {"M": 16})
Traceback (most recent call last):
...
ponder.errors.ConfigError: index 'hnsw' has no parameter 'M'; its parameters are: m (graph ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import faiss
import numpy as np

from ponder.errors import ConfigError

METRICS = ("cosine", "dot", "l2", "l1")


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    return metric


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32, C-contiguous."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape[0] == 1:  # one query: the hot path
        norm = float(np.dot(x[0], x[0])) ** 0.5
        return x * np.float32(1.0 / norm) if norm else x.copy()
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    norms[norms == 0] = 1.0
    return x / norms  # a new C-contiguous float32 array


@dataclass(frozen=True)
class Param:
    """One index parameter: its type, default (``None``: chosen from the data), range and help."""

    name: str
    type: type
    default: Any
    lo: float
    hi: float
    help: str

    def describe(self) -> str:
        default = "auto" if self.default is None else self.default
        return f"{self.name} ({self.help}, default {default})"


def check_params(kind: str, spec: tuple[Param, ...], params: dict[str, Any]) -> dict[str, Any]:
    """Validate user parameters against ``spec``; return them (defaults are not filled in)."""
    by_name = {p.name: p for p in spec}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name not in by_name:
            valid = "; ".join(p.describe() for p in spec) if spec else "none (it has no knobs)"
            raise ConfigError(
                f"index {kind!r} has no parameter {name!r}; its parameters are: {valid}"
            )
        p = by_name[name]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"index {kind!r}: {name} must be a number, got {value!r}")
        if p.type is int and float(value) != int(value):
            raise ConfigError(f"index {kind!r}: {name} must be an integer, got {value!r}")
        value = p.type(value)
        if not p.lo <= value <= p.hi:
            raise ConfigError(
                f"index {kind!r}: {name}={value} is out of range; use {p.lo:g} to {p.hi:g}"
            )
        out[name] = value
    return out


class Selection:
    """An allowed set of pks prepared for FAISS: a bitmap over the pk space (``O(1)`` membership
    for ``IDSelectorBitmap``), built once per search. ``pks`` is sorted and unique.

    >>> s = Selection(np.array([3, 9]))
    >>> s.selector().is_member(9), s.selector().is_member(4), s.selector().is_member(-1)
    (True, False, False)
    """

    def __init__(self, pks: np.ndarray) -> None:
        self.pks = np.asarray(pks, dtype=np.int64)
        self._bits: np.ndarray | None = None
        self._sel: faiss.IDSelector | None = None

    def __len__(self) -> int:
        return len(self.pks)

    def bitmap(self, size: int | None = None) -> np.ndarray:
        """Packed little-endian bitmap with bit ``pk`` set for each allowed pk."""
        top = int(self.pks[-1]) + 1 if len(self.pks) else 0
        n = max(top, size or 0)
        bits = np.zeros(n, dtype=bool)
        bits[self.pks] = True
        return np.packbits(bits, bitorder="little")

    def selector(self) -> faiss.IDSelector:
        """A FAISS selector over pks; this object keeps its memory alive."""
        if self._sel is None:
            self._bits = self.bitmap()
            self._sel = faiss.IDSelectorBitmap(len(self._bits), faiss.swig_ptr(self._bits))
        return self._sel


@dataclass
class SearchStats:
    """What the last ``search`` call did: its knobs and the work FAISS reports."""

    knobs: dict[str, Any] = field(default_factory=dict)
    scanned: int = 0  # vectors whose distance was computed (FAISS stats; estimated otherwise)


class VectorIndex(ABC):
    """A searchable set of (pk, vector) pairs.

    Capabilities are class attributes: ``kind`` (its name), ``metrics`` (the metrics it
    supports), ``exact`` (returns the true nearest neighbours), ``needs_training``,
    ``supports_selector`` (FAISS can filter during its search), ``PARAMS`` (its knobs) and
    ``file_version`` (bumped when its file layout changes: older files are rebuilt).
    """

    kind: ClassVar[str] = ""
    metrics: ClassVar[tuple[str, ...]] = METRICS
    exact: ClassVar[bool] = True
    needs_training: ClassVar[bool] = False
    supports_selector: ClassVar[bool] = True
    PARAMS: ClassVar[tuple[Param, ...]] = ()
    file_version: ClassVar[int] = 1
    # cost of copying one stored vector out (``reconstruct``), in exact-distance units
    gather_cost: ClassVar[float] = 1.0

    def __init__(self, dim: int, metric: str = "cosine", **params: Any) -> None:
        check_metric(metric)
        if metric not in self.metrics:
            from ponder.store.indexes import supported_pairs

            raise ConfigError(
                f"index {self.kind!r} does not support metric {metric!r} (FAISS has no such "
                f"pair); it supports {', '.join(self.metrics)}. Pairs that work: "
                f"{supported_pairs()}"
            )
        self.dim = dim
        self.metric = metric
        self.params = check_params(self.kind, self.PARAMS, params)
        # Exact vectors by pk, from the catalog: set by IndexState, used for exact re-ranking.
        self.vector_source: Callable[[np.ndarray], np.ndarray] | None = None
        self.stats = SearchStats()

    def param(self, name: str) -> Any:
        """A parameter's value: the user's, else its default (``None`` for automatic)."""
        if name in self.params:
            return self.params[name]
        return next(p.default for p in self.PARAMS if p.name == name)

    def prepare(self, x: np.ndarray) -> np.ndarray:
        """Vectors as the index stores them (unit length for cosine)."""
        x = np.ascontiguousarray(x if x.ndim == 2 else np.atleast_2d(x), dtype=np.float32)
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
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | Selection | None = None,
        effort: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` per query as ``(scores, pks)``, pk ``-1`` where fewer exist.

        ``allowed``: when given, only these pks may be returned (FAISS filters during the
        search). ``effort``: multiplies the search knobs (efSearch, nprobe); ``1`` is the
        configured setting. ``self.stats`` then tells the knobs used and the work done.
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

    # ------------------------------------------------------------------ optional capabilities
    def train(self, vectors: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Train on (prepared or raw) vectors; a no-op for indexes that need no training."""

    def maybe_train(self) -> bool:
        """Train now if the index is waiting for enough vectors and has them; ``True`` if it
        changed (the caller then saves it)."""
        return False

    @property
    def fallback_reason(self) -> str | None:
        """Why this index currently answers with exact search instead (``None``: it does not)."""
        return None

    def reconstruct(self, pks: np.ndarray) -> np.ndarray | None:
        """The exact stored vectors of ``pks`` (prepared form), or ``None`` when the index
        keeps only compressed codes (the planner then reads the catalog)."""
        return None

    def keeps_vectors(self) -> bool:
        """Whether ``reconstruct`` gives exact vectors (else they come from the catalog)."""
        return False

    def exact_top(
        self, query: np.ndarray, pks: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Exact top ``k`` ``(scores, pks)`` of one prepared ``query`` over the stored vectors
        of ``pks`` (all held), scored in place without copying them out; ``None`` where the
        index cannot (the planner then uses ``reconstruct``)."""
        return None

    def _top_rows(
        self, storage: faiss.IndexFlat, query: np.ndarray, rows: np.ndarray,
        row_pks: np.ndarray, k: int,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``exact_top`` over the ``rows`` of a flat ``storage`` (``top_by_labels``), as
        ``(scores, pks)`` padded with ``(-inf, -1)``; ``row_pks[row]`` is a row's pk."""
        found = top_by_labels(self.metric, storage, query, rows, k)
        if found is None:
            return None
        raw, labels = found
        ok = labels >= 0
        scores = np.full(k, -np.inf, dtype=np.float32)
        out = np.full(k, -1, dtype=np.int64)
        scores[ok] = self.to_scores(raw[ok])
        out[ok] = row_pks[labels[ok]]
        return scores, out

    def knobs(self, effort: float = 1.0) -> dict[str, Any]:
        """The search settings an ``effort`` maps to (for plans and explain)."""
        return {}

    def cost(self, k: int, effort: float = 1.0) -> float:
        """Rough work of one search, in exact-distance units (the planner compares plans)."""
        return float(len(self))

    def tombstones(self) -> int:
        """Removed vectors still held (indexes that cannot delete in place)."""
        return 0

    def memory_bytes(self) -> int:
        """Bytes of the serialized index (what it holds in memory, roughly)."""
        return 0

    def describe(self) -> dict[str, Any]:
        """Kind, metric, effective parameters and state, for ``info`` and explain."""
        return {"kind": self.kind, "metric": self.metric, "params": dict(self.params)}

    def __len__(self) -> int:
        return len(self.pks())


def top_by_labels(
    metric: str, storage: faiss.IndexFlat, query: np.ndarray, labels: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Exact top ``k`` of one prepared ``query`` over the rows ``labels`` of a flat storage
    (FAISS ``knn_*_by_idx``: one pass over just those rows, no copy). Returns ``(raw, labels)``
    in FAISS order, label ``-1`` past the end; ``None`` for metrics FAISS has no such pass for.

    >>> st = faiss.IndexFlatIP(2)
    >>> st.add(np.array([[1, 0], [0, 1], [0.9, 0.1]], dtype=np.float32))
    >>> raw, lab = top_by_labels("dot", st, np.array([1, 0], dtype=np.float32), np.array([1, 2]), 3)
    >>> lab.tolist(), [round(float(v), 2) for v in raw[:2]]
    ([2, 1, -1], [0.9, 0.0])
    """
    if metric == "l1":
        return None
    q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    vals = np.empty(k, dtype=np.float32)
    ids = np.empty(k, dtype=np.int64)
    fn = faiss.knn_L2sqr_by_idx if metric == "l2" else faiss.knn_inner_products_by_idx
    fn(
        faiss.swig_ptr(q), storage.get_xb(), faiss.swig_ptr(labels), len(q), 1,
        int(storage.ntotal), len(labels), k, faiss.swig_ptr(vals), faiss.swig_ptr(ids),
    )  # fmt: skip
    return vals, ids
