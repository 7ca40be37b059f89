"""Running a collection's vector search: plan, search the index, fetch the rows, build the hits.

``Collection.search`` checks its arguments and embeds the query; ``VectorSearch`` does the
rest. The hot path (no filter, no ``explain``) is one FAISS call and one row fetch, and the
row fetch is mostly served from ``RowCache``: the last few thousand rows returned, kept for
one catalog version. Any write (add, ingest, update, delete, in this process or another) bumps
the catalog version, and the cache starts again empty, so a cached row is never stale. Every
call returns fresh ``Chunk`` objects (their ``metadata`` is a copy), so a caller that edits
what it got cannot change what the next search returns.

>>> import tempfile
>>> from ponder.store.collection import Collection
>>> c = Collection.create("s", home=tempfile.mkdtemp(), embedder=False, dim=2)
>>> _ = c.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], metadatas=[{"n": 1}, {"n": 2}])
>>> c.search(embedding=[1, 0], k=1)[0].chunk.metadata
{'n': 1}
>>> c.update(["a"], [{"n": 5}])          # a write: the cached row of "a" is dropped
>>> c.search(embedding=[1, 0], k=1)[0].chunk.metadata
{'n': 5}
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ponder.store.catalog import Catalog
from ponder.store.indexes import VectorIndex
from ponder.store.metadata_columns import MetadataColumns
from ponder.store.planner import Hits, Planner
from ponder.types import Chunk, Hit

ROW_CACHE_SIZE = 4096  # rows kept between searches (a few MB of chunk text)
_FLAT = (str, int, float, bool, type(None))


def fresh_chunk(chunk: Chunk, flat: bool | None = None) -> Chunk:
    """A copy of ``chunk`` with its own ``metadata`` (deep-copied when it nests; ``flat``:
    already known to hold only scalars), made without ``dataclasses.replace``'s cost: it runs
    for every hit of every search.

    >>> a = Chunk(id="x", doc_id="x", text="t", metadata={"tags": ["a"]})
    >>> b = fresh_chunk(a)
    >>> b == a, b.metadata is a.metadata, b.metadata["tags"] is a.metadata["tags"]
    (True, False, False)
    """
    meta = chunk.metadata
    if flat is None:
        flat = is_flat(meta)
    new = object.__new__(Chunk)
    fields = new.__dict__
    fields.update(chunk.__dict__)
    fields["metadata"] = dict(meta) if flat else copy.deepcopy(meta)
    return new


def is_flat(meta: dict[str, Any]) -> bool:
    """Whether every value is a scalar (a shallow copy is then a full copy)."""
    return all(type(v) in _FLAT for v in meta.values())


class RowCache:
    """The chunks of recently returned pks, valid for one catalog version (LRU).

    >>> cache = RowCache(size=2)
    >>> len(cache), cache.version
    (0, -1)
    """

    def __init__(self, size: int = ROW_CACHE_SIZE) -> None:
        self.size = size
        self.version = -1
        self._rows: OrderedDict[int, tuple[Chunk, bool]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        self._rows.clear()

    def fetch(self, catalog: Catalog, pks: Sequence[int], version: int) -> dict[int, Chunk]:
        """Fresh chunks of ``pks`` (unknown pks are left out) as of catalog ``version``:
        cached rows, and the others in one catalog query."""
        rows = self._rows
        if version != self.version:
            rows.clear()
            self.version = version
        out: dict[int, Chunk] = {}
        missing: list[int] = []
        for pk in pks:
            entry = rows.get(pk)
            if entry is None:
                missing.append(pk)
            else:
                rows.move_to_end(pk)
                out[pk] = fresh_chunk(*entry)
        self.hits += len(out)
        if missing:
            self.misses += len(missing)
            got = catalog.chunks_by_pk(missing)
            if self.size:
                for pk, chunk in got.items():
                    entry = rows[pk] = (chunk, is_flat(chunk.metadata))
                    out[pk] = fresh_chunk(*entry)
                while len(rows) > self.size:
                    rows.popitem(last=False)
            else:
                out.update(got)
        return out


class VectorSearch:
    """One collection's search execution: its planner (with the metadata columns) and its
    row cache."""

    def __init__(self, catalog: Catalog, *, cache_size: int = ROW_CACHE_SIZE) -> None:
        self.catalog = catalog
        self.rows = RowCache(cache_size)
        self._planner: Planner | None = None

    @property
    def planner(self) -> Planner:
        if self._planner is None:
            self._planner = Planner(MetadataColumns(self.catalog))
        return self._planner

    def run(
        self,
        index: VectorIndex,
        version: int,
        query: np.ndarray,
        k: int,
        where: dict[str, Any] | None,
        strategy: str,
        *,
        explain: bool = False,
        timings: dict[str, float] | None = None,
        started: float | None = None,
    ) -> Hits:
        """The top ``k`` hits for one query vector over ``index`` (current at catalog
        ``version``). ``timings``: stages already timed (ms), put first in the plan's;
        ``started``: the ``perf_counter`` the plan's total counts from."""
        scores, pks, plan = self.planner.search(index, query, k, where, strategy, explain=explain)
        fetch_start = time.perf_counter()
        found = [
            (s, p) for s, p in zip(scores.tolist(), pks.tolist(), strict=True) if p >= 0
        ]
        chunks = self.rows.fetch(self.catalog, [p for _, p in found], version)
        hits = Hits()
        rank = 0
        distance = index.metric in ("l2", "l1")
        for s, p in found:
            chunk = chunks.get(p)
            if chunk is None:  # deleted by another process since the index was read
                continue
            rank += 1
            hits.append(Hit(chunk, s, rank, "dense", -s if distance else None))
        if explain and plan is not None:
            done = time.perf_counter()
            plan.timings_ms = {
                **(timings or {}),
                **plan.timings_ms,
                "fetch rows": (done - fetch_start) * 1000,
            }
            plan.timings_ms["total"] = (
                (done - started) * 1000 if started is not None else sum(plan.timings_ms.values())
            )
            hits.plan = plan
        return hits
