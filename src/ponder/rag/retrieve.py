"""Retrieval for question answering: dense, BM25 and hybrid, all with the same ``where`` filters.

- ``dense``: nearest chunks by embedding (``Collection.search``).
- ``bm25``: keyword search over the SQLite FTS5 table (``Collection.keyword_search``), which is
  written in the same transaction as the chunks.
- ``hybrid``: both retrievers return ``candidates`` hits each, then a fusion ranks their union.

Fusions (``RetrievalConfig.fusion``):

- ``zscore`` (default): convex combination ``w_d * z(dense) + w_b * z(bm25)`` where each
  retriever's scores are standardised (mean 0, standard deviation 1) over its own candidates;
  a chunk absent from one list gets that list's lowest z-score.
- ``minmax``: the same with min-max normalisation to [0, 1] (absent: 0).
- ``rrf``: reciprocal rank fusion, ``sum_i w_i / (rrf_k + rank_i)``; ranks only.

Why ``zscore`` with equal weights: on BEIR SciFact (MiniLM + FTS5 BM25), tuned on the *train*
queries, it beat the other fusions and weights; score fusions keep how far apart the hits are,
which ranks throw away. Test-set figures and each step's gain are in
``bench/results/retrieval.md`` (``python bench/retrieval.py``).

>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.store.collection import Collection
>>> import tempfile
>>> col = Collection.create("doc", home=tempfile.mkdtemp(), embedder=HashEmbedder(dim=64))
>>> _ = col.add(ids=["a", "b", "c"],
...             texts=["cats purr when content", "dogs bark at night", "stock markets fell"],
...             metadatas=[{"pet": True}, {"pet": True}, {"pet": False}])
>>> [(h.chunk.id, h.found_by, h.rank) for h in retrieve(col, "do cats purr?", k=2)]
[('a', 'hybrid', 1), ('b', 'hybrid', 2)]
>>> [h.chunk.id for h in retrieve(col, "markets", mode="bm25", where={"pet": True})]
[]
>>> retrieve(col, "cats", fusion="borda")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: unknown fusion 'borda'; choose one of zscore, minmax, rrf
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from ponder.errors import ConfigError, InputError
from ponder.types import Hit

if TYPE_CHECKING:
    from ponder.store.collection import Collection

Mode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["zscore", "minmax", "rrf"]
MODES: tuple[str, ...] = get_args(Mode)
FUSIONS: tuple[str, ...] = get_args(Fusion)


@dataclass(frozen=True)
class RetrievalConfig:
    """How ``retrieve`` finds chunks. Validated on construction.

    ``weights`` are ``(dense, bm25)`` and apply to hybrid fusion only. ``candidates`` is how
    many hits each retriever contributes before fusion (at least ``k`` are always fetched).
    ``min_score`` is a relevance floor: hits below it are dropped, so fewer than ``k`` (or
    none) may come back. It is compared with the *dense* score (cosine similarity for a cosine
    collection) in ``dense`` and ``hybrid`` mode, because fused scores only rank the hits of one
    query and cannot tell that nothing is relevant; in ``bm25`` mode with the BM25 score.

    >>> RetrievalConfig(k=3).k
    3
    >>> RetrievalConfig(mode="sparse")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: unknown retrieval mode 'sparse'; choose one of dense, bm25, hybrid
    """

    mode: Mode = "hybrid"
    k: int = 5
    where: dict[str, Any] | str | None = None
    fusion: Fusion = "zscore"
    weights: tuple[float, float] = (0.5, 0.5)
    rrf_k: int = 60
    candidates: int = 100
    min_score: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(
                f"unknown retrieval mode {self.mode!r}; choose one of {', '.join(MODES)}"
            )
        if self.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}")
        for name, least in (("k", 1), ("candidates", 1), ("rrf_k", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
        w = tuple(self.weights)
        if (
            len(w) != 2
            or not all(isinstance(x, int | float) and np.isfinite(x) and x >= 0 for x in w)
            or sum(w) == 0
        ):
            raise ConfigError(
                f"weights must be two non-negative numbers (dense, bm25), not both 0; got {w!r}"
            )
        object.__setattr__(self, "weights", (float(w[0]), float(w[1])))
        if self.min_score is not None and not np.isfinite(self.min_score):
            raise ConfigError(f"min_score must be a finite number or None, got {self.min_score!r}")

    def replace(self, **overrides: Any) -> RetrievalConfig:
        """A copy with some fields changed (unknown names are refused).

        >>> RetrievalConfig().replace(mode="bm25", k=2).mode
        'bm25'
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ConfigError(f"unknown retrieval option(s) {unknown}; options are {sorted(known)}")
        return dataclasses.replace(self, **overrides)


def retrieve(
    collection: Collection,
    query: str,
    config: RetrievalConfig | None = None,
    **overrides: Any,
) -> list[Hit]:
    """The ``k`` best chunks of ``collection`` for ``query``, ranked 1..k.

    ``overrides`` change fields of ``config`` (or of the default config) for this call, e.g.
    ``retrieve(col, q, mode="bm25", k=10)``. ``found_by`` is the mode; ``score`` is the dense
    score, the BM25 score, or the fused score (hybrid).
    """
    cfg = (config or RetrievalConfig()).replace(**overrides) if overrides else config
    cfg = cfg or RetrievalConfig()
    if not isinstance(query, str) or not query.strip():
        raise InputError("retrieve(): the query is empty; give a question or keywords")
    # one retriever's scores fall with its ranks, so a floor never needs more than k of them
    fetch = max(cfg.k, cfg.candidates) if cfg.mode == "hybrid" else cfg.k

    qvec: np.ndarray | None = None
    dense: list[Hit] = []
    bm25: list[Hit] = []
    if cfg.mode in ("dense", "hybrid"):
        try:
            embedder = collection.embedder
        except ConfigError:
            raise ConfigError(
                f"collection {collection.name!r} has no embedder, so {cfg.mode!r} retrieval "
                "cannot embed the query; use mode='bm25', or search it with "
                "Collection.search(embedding=...)"
            ) from None
        qvec = embedder.embed_query(query)
        dense = collection.search(embedding=qvec, k=fetch, where=cfg.where)
    if cfg.mode in ("bm25", "hybrid"):
        bm25 = collection.keyword_search(query, k=fetch, where=cfg.where)

    if cfg.mode == "dense":
        hits = dense
    elif cfg.mode == "bm25":
        hits = bm25
    else:
        hits = _fuse(dense, bm25, cfg)

    if cfg.min_score is not None:
        floor = cfg.min_score
        if cfg.mode == "hybrid":
            assert qvec is not None
            known = {h.chunk.id: h.score for h in dense}
            missing = [h.chunk.id for h in hits if h.chunk.id not in known]
            known.update(dense_scores(collection, qvec, missing))
            hits = [h for h in hits if known.get(h.chunk.id, -np.inf) >= floor]
        else:
            hits = [h for h in hits if h.score >= floor]
    return [dataclasses.replace(h, rank=r) for r, h in enumerate(hits[: cfg.k], start=1)]


# ---------------------------------------------------------------------------------- fusion
def _normalise(scores: np.ndarray, how: str) -> tuple[np.ndarray, float]:
    """Normalised scores and the value given to a chunk absent from the list."""
    if how == "minmax":
        lo, hi = float(scores.min()), float(scores.max())
        span = hi - lo
        return ((scores - lo) / span if span > 0 else np.ones_like(scores)), 0.0
    mu, sd = float(scores.mean()), float(scores.std())
    z = (scores - mu) / sd if sd > 0 else np.zeros_like(scores)
    return z, float(z.min())


def fuse_scores(
    lists: Sequence[Sequence[tuple[str, float]]],
    weights: Sequence[float],
    fusion: str = "rrf",
    rrf_k: int = 60,
) -> list[tuple[str, float]]:
    """Fuse ranked ``[(id, score)]`` lists (best first) into one ``[(id, fused)]``, best first.

    Ties are broken by the best rank a chunk reached in any list, then by id.

    >>> fuse_scores([[("a", 0.9), ("b", 0.8)], [("b", 7.0), ("c", 1.0)]], [1, 1], "rrf", 0)
    [('b', 1.5), ('a', 1.0), ('c', 0.5)]
    >>> fuse_scores([[("a", 0.9), ("b", 0.5)], [("b", 7.0), ("c", 1.0)]], [1, 1], "minmax")
    [('a', 1.0), ('b', 1.0), ('c', 0.0)]
    """
    if len(lists) != len(weights):
        raise ConfigError(f"{len(lists)} ranked lists but {len(weights)} weights; give one each")
    best_rank: dict[str, int] = {}
    for lst in lists:
        for rank, (cid, _) in enumerate(lst, start=1):
            best_rank[cid] = min(best_rank.get(cid, rank), rank)
    fused = dict.fromkeys(best_rank, 0.0)
    for lst, w in zip(lists, weights, strict=True):
        if not lst or w == 0:
            continue
        if fusion == "rrf":
            for rank, (cid, _) in enumerate(lst, start=1):
                fused[cid] += w / (rrf_k + rank)
            continue
        norm, absent = _normalise(np.asarray([s for _, s in lst], dtype=np.float64), fusion)
        present = {cid for cid, _ in lst}
        for (cid, _), v in zip(lst, norm, strict=True):
            fused[cid] += w * float(v)
        for other in best_rank:
            if other not in present:
                fused[other] += w * absent
    return sorted(fused.items(), key=lambda kv: (-kv[1], best_rank[kv[0]], kv[0]))


def _fuse(dense: list[Hit], bm25: list[Hit], cfg: RetrievalConfig) -> list[Hit]:
    chunks = {h.chunk.id: h.chunk for h in (*bm25, *dense)}
    fused = fuse_scores(
        [[(h.chunk.id, h.score) for h in dense], [(h.chunk.id, h.score) for h in bm25]],
        cfg.weights,
        cfg.fusion,
        cfg.rrf_k,
    )
    return [
        Hit(chunk=chunks[cid], score=score, rank=r, found_by="hybrid")
        for r, (cid, score) in enumerate(fused, start=1)
    ]


def dense_scores(collection: Collection, qvec: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
    """Exact dense scores of chunks by id (their stored vectors), in the collection's metric
    and with ``Collection.search``'s convention (higher is better)."""
    if not ids:
        return {}
    found = list(collection.vectors(list(ids)).items())
    if not found:
        return {}
    mat = np.vstack([v for _, v in found]).astype(np.float32)
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    if collection.metric == "cosine":
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
    if collection.metric in ("cosine", "dot"):
        scores = mat @ q
    elif collection.metric == "l2":
        scores = -np.linalg.norm(mat - q, axis=1)
    else:
        scores = -np.abs(mat - q).sum(axis=1)
    return {cid: float(s) for (cid, _), s in zip(found, scores, strict=True)}
