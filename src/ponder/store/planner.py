"""Filtered vector search as a query plan: estimate, choose, execute, explain.

Every ANN system loses rows under restrictive filters when it filters *after* a fixed-size
search (pgvector returns about ``ef x selectivity`` rows). Ponder plans each filtered search:

1. **estimate** the filter's selectivity on a fixed sample of the collection's metadata
   (in-memory columns loaded from the catalog, see ``MetadataColumns``; exact when the
   collection is small);
2. **choose** the cheapest of three strategies with a cost model in exact-distance units:

   - ``pre``: score the matching vectors exactly (cost ~ the matches; flat and HNSW score
     them in place, FAISS ``knn_*_by_idx``, others copy them out or read the catalog);
   - ``in``: FAISS filters during its search (``IDSelector`` bitmap) with its effort raised for
     the selectivity (HNSW ``efSearch / s``, IVF ``nprobe / sqrt(s)``);
   - ``post``: search ``1.5 k / s`` candidates, with the index's effort raised in
     proportion, and keep those that match (sound when the candidate list is accurate: every
     vector nearer than the last candidate is in it).

   On approximate indexes auto weighs only ``pre`` and ``post``: a filtered HNSW beam, or
   the IVF cells nearest the query, can meet enough matches and still have grazed only the
   edge of matches lying away from the query (anti-correlated filters), missing the nearest
   ones (measured: recall 0.8 at 50% selectivity on SciFact). ``in`` stays available on
   request, and auto uses it on exact (flat) indexes, where it is a filtered exact scan;

3. **execute** it, and *widen* (4x the effort or the over-fetch) while fewer than ``k`` rows came
   back but more match; when widening would cost more than an exact scan, finish with ``pre``.
   So ``k`` rows come back whenever ``k`` rows match, whatever the plan.

A filter's estimate and matching pks are kept (the last ``FILTER_CACHE`` filters) until the
next write, so a filter repeated across queries costs one dictionary lookup.

``strategy="pre" | "in" | "post"`` forces a strategy (``in`` on an index whose FAISS search
cannot filter falls back to ``post``, and the plan says so). The plan is returned with
``explain=True``: estimated and actual matches, strategy and why, candidates scanned,
widenings and time per stage.

>>> import tempfile
>>> from ponder.store.collection import Collection
>>> c = Collection.create("p", home=tempfile.mkdtemp(), embedder=False, dim=2)
>>> _ = c.add(ids=["a", "b", "c"], embeddings=[[1, 0], [0, 1], [1, 1]],
...           metadatas=[{"n": 1}, {"n": 2}, {"n": 3}])
>>> hits = c.search(embedding=[1, 0], k=2, where={"n": {"$gte": 2}}, explain=True)
>>> [h.chunk.id for h in hits], hits.plan.actual_matches, hits.plan.strategy in STRATEGIES
(['c', 'b'], 2, True)
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ponder.errors import ConfigError
from ponder.store.indexes import Selection, VectorIndex, exact_scores
from ponder.store.metadata_columns import Estimate, MetadataColumns
from ponder.types import Hit

STRATEGIES = ("auto", "pre", "in", "post")
OVERFETCH = 1.5  # post: candidates fetched per row wanted, over the estimated selectivity
# Cost model, in units of one exact (batched) distance computation at the collection's dim:
GATHER_CATALOG = 20.0  # read one vector from SQLite (indexes that keep only codes)
BITMAP_PER_PK = 0.03  # build the selector bitmap, per pk of the pk range
CHECK = 0.2  # check one candidate against the filter
FILTER_CACHE = 64  # filters whose matches are kept until the next write
PROBE = 3  # in-search: rows asked for, per row wanted, to detect matches away from the query


@dataclass
class Plan:
    """How a search ran. ``str(plan)`` gives a readable report; ``to_dict()`` a JSON one."""

    requested: str
    strategy: str = "ann"
    reason: str = ""
    k: int = 10
    vectors: int = 0
    index: str = ""
    filtered: bool = False
    estimated_matches: int | None = None
    estimate_method: str = ""
    actual_matches: int | None = None
    candidates_scanned: int = 0
    widenings: int = 0
    knobs: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    returned: int = 0
    notices: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        lines = [
            f"index      {self.index} over {self.vectors} vectors, k={self.k}",
            f"strategy   {self.strategy} (requested {self.requested}): {self.reason}",
        ]
        if self.filtered:
            est = "?" if self.estimated_matches is None else self.estimated_matches
            act = "not counted" if self.actual_matches is None else self.actual_matches
            lines.append(f"matches    estimated {est} ({self.estimate_method}), actual {act}")
        if self.costs:
            lines.append("costs      " + ", ".join(f"{s}={c:,.0f}" for s, c in self.costs.items()))
        lines.append(
            f"work       {self.candidates_scanned} candidates scanned, {self.widenings} "
            f"widenings, knobs {self.knobs or '-'}; returned {self.returned}"
        )
        lines.append(
            "time       " + ", ".join(f"{s} {ms:.2f} ms" for s, ms in self.timings_ms.items())
        )
        lines += [f"notice     {n}" for n in self.notices]
        return "\n".join(lines)


class _Filter:
    """One filter at one catalog version: its estimate, matching pks and FAISS selection
    (each computed once, when first needed)."""

    def __init__(
        self, columns: MetadataColumns, where: dict[str, Any], estimate: Estimate
    ) -> None:
        self.columns = columns
        self.where = where
        self.estimate = estimate
        self._allowed: np.ndarray | None = None
        self._selection: Selection | None = None

    def allowed(self) -> np.ndarray:
        if self._allowed is None:
            self._allowed = self.columns.matching_pks(self.where)
        return self._allowed

    def selection(self) -> Selection:
        if self._selection is None:
            self._selection = Selection(self.allowed())
        return self._selection


class Hits(list[Hit]):
    """Search results: a plain ``list[Hit]`` with the query ``plan`` attached (``None`` unless
    the search was made with ``explain=True``)."""

    plan: Plan | None = None


class _Clock:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        ms = (now - self.t) * 1000
        self.plan.timings_ms[stage] = self.plan.timings_ms.get(stage, 0.0) + ms
        self.t = now


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    return strategy


def _topk(scores: np.ndarray, pks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` (score, pk) pairs, best first, padded with (-inf, -1)."""
    keep = pks >= 0
    scores, pks = scores[keep], pks[keep]
    if len(scores) > k:
        part = np.argpartition(-scores, k - 1)[:k]
        scores, pks = scores[part], pks[part]
    order = np.lexsort((pks, -scores))
    out_s = np.full(k, -np.inf, dtype=np.float32)
    out_p = np.full(k, -1, dtype=np.int64)
    out_s[: len(order)] = scores[order]
    out_p[: len(order)] = pks[order]
    return out_s, out_p


class Planner:
    """Plans and runs searches over one collection's index and metadata columns."""

    def __init__(self, columns: MetadataColumns) -> None:
        self.columns = columns
        self._filters: OrderedDict[str, _Filter] = OrderedDict()
        self._filters_version = -1

    def _filter(self, where: dict[str, Any]) -> _Filter:
        """The estimate (and, once needed, the matching pks) of a filter at the columns'
        current version, kept for the last ``FILTER_CACHE`` filters: a repeated filter is
        neither re-estimated nor re-evaluated until the next write."""
        cols = self.columns
        if cols.version != self._filters_version:
            self._filters.clear()
            self._filters_version = cols.version
        key = json.dumps(where, sort_keys=True, default=str)
        found = self._filters.get(key)
        if found is not None:
            self._filters.move_to_end(key)
            return found
        where = copy.deepcopy(where)  # kept: the caller may change its own dict later
        found = self._filters[key] = _Filter(cols, where, cols.estimate(where))
        if len(self._filters) > FILTER_CACHE:
            self._filters.popitem(last=False)
        return found

    # ------------------------------------------------------------------ entry point
    def search(
        self,
        index: VectorIndex,
        query: np.ndarray,
        k: int,
        where: dict[str, Any] | None,
        strategy: str = "auto",
        *,
        explain: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, Plan | None]:
        """Top ``k`` ``(scores, pks)`` for one raw query vector, and the plan that found them
        (``None`` for an unfiltered search without ``explain``: the hot path is one FAISS call)."""
        if not where and not explain:
            q = np.asarray(query, dtype=np.float32).reshape(1, -1)
            scores, pks = index.search(q, k)
            # FAISS fills missing rows at the end: a full last slot means k rows
            if pks[0, -1] >= 0 or index.exact or int((pks[0] >= 0).sum()) >= len(index):
                return scores[0], pks[0], None
        check_strategy(strategy)
        n = len(index)
        plan = Plan(requested=strategy, k=k, vectors=n, index=_describe(index))
        if index.fallback_reason:
            plan.notices.append(index.fallback_reason)
        clock = _Clock(plan)
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if not where:
            scores, pks = self._unfiltered(index, q, k, plan)
            clock.lap("search")
        else:
            plan.filtered = True
            with self.columns.snapshot():
                scores, pks = self._filtered(index, q, k, where, strategy, plan, clock)
        plan.returned = int((pks >= 0).sum())
        return scores, pks, plan

    # ------------------------------------------------------------------ unfiltered
    def _unfiltered(
        self, index: VectorIndex, q: np.ndarray, k: int, plan: Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        plan.strategy = "exact" if index.exact or index.fallback_reason else "ann"
        plan.reason = "no filter: one index search"
        want = min(k, len(index))
        effort = 1.0
        while True:
            scores, pks = index.search(q, k, effort=effort)
            plan.candidates_scanned += index.stats.scanned
            plan.knobs = dict(index.stats.knobs)
            if int((pks[0] >= 0).sum()) >= want or index.exact:
                return scores[0], pks[0]
            if index.cost(k, effort * 4) >= len(index):  # widening costs more than exact
                plan.widenings += 1
                plan.strategy = "exact"
                return self._pre(index, q, k, index.pks(), plan)
            effort *= 4
            plan.widenings += 1

    # ------------------------------------------------------------------ filtered
    def _filtered(
        self,
        index: VectorIndex,
        q: np.ndarray,
        k: int,
        where: dict[str, Any],
        strategy: str,
        plan: Plan,
        clock: _Clock,
    ) -> tuple[np.ndarray, np.ndarray]:
        n = len(index)
        flt = self._filter(where)
        est = flt.estimate
        plan.estimated_matches = est.matches
        plan.estimate_method = est.method
        plan.notices += est.notices
        clock.lap("estimate")
        if n == 0 or (est.exact and est.matches == 0):
            plan.actual_matches = 0 if est.exact else None
            return self._none(plan, k)
        sel = min(1.0, max(est.matches, 1) / n)
        pre_cost = _pre_cost(index, sel * n)
        choice = strategy
        if strategy == "auto":
            plan.costs = self._costs(index, k, sel, n)
            choice = min(plan.costs, key=lambda s: plan.costs[s])
            plan.reason = f"estimated selectivity {sel:.2%}: {choice} is the cheapest plan"
            if "in" not in plan.costs:
                plan.reason += " (approximate index: auto weighs pre and post only)"
        else:
            plan.reason = "requested"
        if choice == "in" and not index.supports_selector:
            plan.notices.append(f"{index.kind}: FAISS cannot filter during its search; post")
            choice = "post"
        if choice == "post":
            out = self._post(index, q, k, where, sel, pre_cost, plan, clock)
            if out is not None:
                return out
            choice = "pre"  # widening would cost more than filtering exactly
        allowed = flt.allowed()
        plan.actual_matches = len(allowed)
        clock.lap("filter")
        if not len(allowed):
            return self._none(plan, k)
        if strategy == "auto" and not est.exact and not plan.strategy.startswith("post"):
            # the sample was an estimate: re-plan with the exact count
            costs = self._costs(index, k, len(allowed) / n, n)
            choice = "in" if costs.get("in", math.inf) < costs["pre"] else "pre"
        if choice == "in":
            out = self._in(index, q, k, flt.selection(), len(allowed) / n, plan)
        else:
            plan.strategy = plan.strategy + "+pre" if plan.strategy.startswith("post") else "pre"
            out = self._pre(index, q, k, allowed, plan)
        clock.lap("search")
        return out

    @staticmethod
    def _none(plan: Plan, k: int) -> tuple[np.ndarray, np.ndarray]:
        plan.strategy, plan.reason = "none", "no chunk matches the filter"
        return np.full(k, -np.inf, np.float32), np.full(k, -1, np.int64)

    def _costs(self, index: VectorIndex, k: int, sel: float, n: int) -> dict[str, float]:
        """Estimated work of each plan the planner trusts for this index (see ``_TRUSTED``)."""
        fetch = min(n, math.ceil(k / sel * OVERFETCH))
        costs = {
            "pre": _pre_cost(index, sel * n),
            "in": index.cost(PROBE * k, _in_effort(index, sel))
            + (self.columns.max_pk() + 1) * BITMAP_PER_PK,
            "post": index.cost(fetch, _post_effort(index, fetch, k)) + fetch * CHECK,
        }
        if not (index.exact or index.fallback_reason):
            costs.pop("in")  # see the module docstring: not trusted by auto on ANN indexes
        return costs

    def _pre(
        self, index: VectorIndex, q: np.ndarray, k: int, allowed: np.ndarray, plan: Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores over the allowed vectors: cost proportional to their number. Indexes
        that keep the vectors score them in place (``exact_top``), others hand them over."""
        plan.candidates_scanned += len(allowed)
        top = index.exact_top(index.prepare(q)[0], allowed, k)
        if top is not None:
            return _topk(top[0], top[1], k)  # ties ordered by pk, as below
        vectors = index.reconstruct(allowed)
        if vectors is None:
            if index.vector_source is None:
                raise ConfigError(f"index {index.kind} cannot pre-filter without the catalog")
            vectors = index.prepare(index.vector_source(allowed))
            plan.knobs["vectors_from"] = "catalog"
        scores = exact_scores(index.metric, index.prepare(q)[0], vectors)
        return _topk(scores, np.asarray(allowed, dtype=np.int64), k)

    def _in(
        self,
        index: VectorIndex,
        q: np.ndarray,
        k: int,
        selection: Selection,
        sel: float,
        plan: Plan,
    ) -> tuple[np.ndarray, np.ndarray]:
        """FAISS filters during its search; effort raised for the selectivity, 4x per widening.

        It asks for ``PROBE * k`` rows and trusts the result only when that many matching
        vectors were met: with an uncorrelated filter the raised effort meets about
        ``efSearch`` of them; fewer means the matches lie away from the query (an
        anti-correlated filter), where the graph's beam only grazes them: widen."""
        plan.strategy = "in"
        allowed = selection.pks
        probe = min(len(allowed), PROBE * k)
        effort = _in_effort(index, sel)
        pre_cost = _pre_cost(index, len(allowed))
        if not index.exact and index.cost(probe, effort) >= pre_cost:
            plan.notices.append(
                f"in-search at this selectivity would cost more than an exact pass over the "
                f"{len(allowed)} matches: done exactly"
            )
            plan.strategy = "in+pre"
            return self._pre(index, q, k, allowed, plan)
        while True:
            scores, pks = index.search(q, probe, allowed=selection, effort=effort)
            plan.candidates_scanned += index.stats.scanned
            plan.knobs = dict(index.stats.knobs)
            if int((pks[0] >= 0).sum()) >= probe or index.exact:
                return scores[0][:k], pks[0][:k]
            effort *= 4
            plan.widenings += 1
            if index.cost(k, effort) >= pre_cost:
                plan.notices.append("widening would cost more than an exact pass: finished exactly")
                plan.strategy = "in+pre"
                return self._pre(index, q, k, allowed, plan)

    def _post(
        self,
        index: VectorIndex,
        q: np.ndarray,
        k: int,
        where: dict[str, Any],
        sel: float,
        pre_cost: float,
        plan: Plan,
        clock: _Clock,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Over-fetch ``1.5 k / s`` candidates, keep the matching ones, widen 4x while short.
        ``None`` when widening would cost more than an exact pre-filter."""
        plan.strategy = "post"
        n = len(index)
        fetch = min(n, math.ceil(k / sel * OVERFETCH))
        if index.cost(fetch, _post_effort(index, fetch, k)) + fetch * CHECK >= pre_cost:
            plan.notices.append(
                f"post-filtering would fetch {fetch} candidates, more work than an exact pass: "
                "done exactly"
            )
            return None
        while True:
            scores, pks = index.search(q, fetch, effort=_post_effort(index, fetch, k))
            clock.lap("search")
            plan.candidates_scanned += index.stats.scanned
            plan.knobs = dict(index.stats.knobs, fetch=fetch)
            found = pks[0] >= 0
            cand_s, cand_p = scores[0][found], pks[0][found]
            ok = self.columns.matches_pks(where, cand_p)
            clock.lap("filter")
            complete = index.exact and (fetch >= n or len(cand_p) < fetch)
            if ok.sum() >= k or complete:
                return _topk(cand_s[ok], cand_p[ok], k)
            # widen 4x, or further when the matches met here say the filter is rarer near
            # the query than overall (an anti-correlated filter): then an exact pass usually
            # wins at once, instead of after a few hopeless widenings
            rate = (int(ok.sum()) + 1) / (len(cand_p) + 1)
            nxt = min(n, max(fetch * 4, math.ceil(k / rate * OVERFETCH)))
            if fetch >= n or index.cost(nxt, _post_effort(index, nxt, k)) + nxt * CHECK >= pre_cost:
                plan.notices.append("widening would cost more than an exact pass: finished exactly")
                return None
            fetch = nxt
            plan.widenings += 1


def _pre_cost(index: VectorIndex, matches: float) -> float:
    gather = index.gather_cost if index.keeps_vectors() else GATHER_CATALOG
    return max(1.0, matches) * (1.0 + gather)


def _post_effort(index: VectorIndex, fetch: int, k: int) -> float:
    """Effort for a top-``fetch`` list as accurate as the configured top-``k``: an HNSW beam
    in the same proportion to the list (a beam of twice the list lost recall at 20%
    selectivity on 50k vectors: 0.92); IVF cells grow with the square root of the list."""
    if index.exact or index.fallback_reason:
        return 1.0
    if index.kind == "hnsw":
        return max(1.0, fetch / k)
    return max(1.0, math.sqrt(fetch / k))


def _in_effort(index: VectorIndex, sel: float) -> float:
    """How much to raise an index's search knobs for a filter of selectivity ``sel``: HNSW
    keeps about ``efSearch * s`` allowed nodes in its beam, so ``1/s``; IVF visits cells in
    order of distance, so fewer extra cells are needed: ``1/sqrt(s)``."""
    if index.exact or index.fallback_reason:
        return 1.0
    if index.kind == "hnsw":
        return 1.0 / sel
    return 1.0 / math.sqrt(sel)


def _describe(index: VectorIndex) -> str:
    params = ", ".join(f"{k}={v}" for k, v in index.params.items())
    return f"{index.kind}({params})" if params else index.kind
