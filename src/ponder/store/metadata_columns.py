"""In-memory columns of chunk metadata: fast, exact filter evaluation for the query planner.

A filtered search needs the filter's selectivity (to choose a plan) and often the matching
pks. Scanning SQLite's JSON for every query costs about a microsecond per chunk; instead, the
fields a filter names are loaded once per catalog version into numpy columns (type code,
number, string code) and filters are evaluated with vectorised comparisons, following the SQL
semantics of ``ponder.store.filters`` exactly. Rows whose value is an array or an object (and
integers beyond 2**53) are evaluated by SQLite itself, so the result is always the catalog's.

>>> import tempfile
>>> from ponder.store.collection import Collection
>>> c = Collection.create("m", home=tempfile.mkdtemp(), embedder=False, dim=2)
>>> _ = c.add(ids=["a", "b", "c"], embeddings=[[1, 0], [0, 1], [1, 1]],
...           metadatas=[{"y": 2020}, {"y": 2024, "t": ["a"]}, {"y": "x"}])
>>> cols = MetadataColumns(c.catalog)
>>> cols.matching_pks({"y": {"$gte": 2021}}).tolist(), cols.matching_pks({"t": "a"}).tolist()
([2], [2])
>>> cols.estimate({"nope": 1}).notices
["field 'nope' is absent from every chunk"]
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ponder.store.catalog import Catalog

T_MISSING, T_NULL, T_TRUE, T_FALSE, T_INT, T_REAL, T_TEXT, T_COMPLEX = range(8)
_TYPES = {
    None: T_MISSING,
    "null": T_NULL,
    "true": T_TRUE,
    "false": T_FALSE,
    "integer": T_INT,
    "real": T_REAL,
    "text": T_TEXT,
    "array": T_COMPLEX,
    "object": T_COMPLEX,
}
SAMPLE = 4096
_EXACT_INT = 2**53


class _NeedSQL(Exception):
    """A condition the vectorised evaluator does not cover: let SQLite answer."""


@dataclass
class Column:
    """One metadata field over every chunk, in pk order."""

    types: np.ndarray  # int8 type codes
    num: np.ndarray  # float64, NaN where not a number
    codes: np.ndarray  # int32 index into ``uniques``, -1 where not a string
    uniques: np.ndarray  # sorted strings (object array)
    complex: np.ndarray  # bool: evaluated by SQLite

    @property
    def present(self) -> bool:
        return bool((self.types != T_MISSING).any())

    def code(self, s: str) -> int:
        i = int(np.searchsorted(self.uniques, s)) if len(self.uniques) else 0
        return i if i < len(self.uniques) and self.uniques[i] == s else -1

    def string_mask(self, ok: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Rows whose string's ``ok`` flag (one per unique) is set."""
        if not len(ok):
            return np.zeros(len(codes), dtype=bool)
        return (codes >= 0) & ok[np.maximum(codes, 0)]


@dataclass
class Estimate:
    matches: int
    exact: bool
    method: str
    notices: list[str] = field(default_factory=list)


def _fields(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$and", "$or"):
                for v in value:
                    _fields(v, out)
            elif key == "$not":
                _fields(value, out)
            else:
                out.add(key)
    return out


class MetadataColumns:
    """Columns of one catalog's metadata, reloaded when the catalog version changes."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.version = -1
        self.pks = np.zeros(0, dtype=np.int64)
        self.cols: dict[str, Column] = {}
        self._sample: np.ndarray | None = None
        self._depth = 0

    # ------------------------------------------------------------------ loading
    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Columns current with the catalog for the duration (one version query when they
        are; a consistent read transaction to reload when they are not)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            if self.catalog.version() != self.version:
                with self.catalog.read():
                    self._reload_if_stale()
            yield
        finally:
            self._depth = 0

    def _reload_if_stale(self) -> None:
        version = self.catalog.version()
        if version != self.version:
            self.pks = self.catalog.chunk_pks()
            self.cols, self._sample, self.version = {}, None, version

    def snapshot(self) -> AbstractContextManager[None]:
        """Hold the columns at one catalog version for a block: one version query for every
        call inside it (``version`` is then that version)."""
        return self._snapshot()

    def sync(self) -> None:
        with self._snapshot():
            pass

    def column(self, name: str) -> Column:
        with self._snapshot():
            if name not in self.cols:
                with self.catalog.read():
                    self._reload_if_stale()  # a write since the snapshot: start over
                    self.cols[name] = self._load(name)
            return self.cols[name]

    def _load(self, name: str) -> Column:
        rows = self.catalog.metadata_field(name)
        n = len(rows)
        types = np.fromiter((_TYPES[r[0]] for r in rows), dtype=np.int8, count=n)
        num = np.full(n, np.nan)
        codes = np.full(n, -1, dtype=np.int32)
        uniques = np.zeros(0, dtype=object)
        is_num = np.flatnonzero((types == T_INT) | (types == T_REAL))
        if len(is_num):
            num[is_num] = [float(rows[i][1]) for i in is_num]
        complex_ = types == T_COMPLEX
        ints = np.flatnonzero(types == T_INT)
        big = [i for i in ints[np.abs(num[ints]) >= _EXACT_INT] if abs(rows[i][1]) > _EXACT_INT]
        complex_[big] = True
        is_text = np.flatnonzero(types == T_TEXT)
        if len(is_text):
            texts = np.empty(len(is_text), dtype=object)
            texts[:] = [rows[i][1] for i in is_text]
            uniques, inverse = np.unique(texts, return_inverse=True)
            codes[is_text] = inverse
        return Column(types, num, codes, uniques, complex_)

    def max_pk(self) -> int:
        self.sync()
        return int(self.pks[-1]) if len(self.pks) else 0

    # ------------------------------------------------------------------ evaluation
    def matches_rows(self, where: dict[str, Any], rows: np.ndarray | None = None) -> np.ndarray:
        """Which rows (positions in ``self.pks``; all when ``None``) match the filter."""
        with self._snapshot():
            names = _fields(where, set())
            cols = {f: self.column(f) for f in names}
            if any(len(c.types) != len(self.pks) for c in cols.values()):  # written meanwhile
                cols = {f: self.column(f) for f in names}
            size = len(self.pks) if rows is None else len(rows)
            hard = np.zeros(size, dtype=bool)
            for c in cols.values():
                hard |= c.complex if rows is None else c.complex[rows]
            try:
                mask = self._eval(where, cols, rows, size)
            except _NeedSQL:
                mask, hard = np.zeros(size, dtype=bool), np.ones(size, dtype=bool)
            if hard.any():
                idx = np.flatnonzero(hard)
                pks = self.pks[idx] if rows is None else self.pks[rows[idx]]
                mask[idx] = np.isin(pks, self._sql_matches(where, pks))
            return mask

    def matching_pks(self, where: dict[str, Any]) -> np.ndarray:
        """The sorted pks of every chunk that matches (same as ``Catalog.pks_where``)."""
        with self._snapshot():
            return self.pks[self.matches_rows(where)]

    def matches_pks(self, where: dict[str, Any], pks: np.ndarray) -> np.ndarray:
        """A boolean per pk (unknown pks do not match): cost proportional to ``len(pks)``."""
        with self._snapshot():
            pks = np.asarray(pks, dtype=np.int64)
            out = np.zeros(len(pks), dtype=bool)
            if not len(self.pks) or not len(pks):
                return out
            pos = np.minimum(np.searchsorted(self.pks, pks), len(self.pks) - 1)
            known = self.pks[pos] == pks
            out[known] = self.matches_rows(where, pos[known])
            return out

    def estimate(self, where: dict[str, Any]) -> Estimate:
        """Matches counted on a fixed sample of ``SAMPLE`` rows (exactly when fewer)."""
        with self._snapshot():
            n = len(self.pks)
            notices = [
                f"field {f!r} is absent from every chunk"
                for f in sorted(_fields(where, set()))
                if not self.column(f).present
            ]
            if n <= 2 * SAMPLE:
                m = int(self.matches_rows(where).sum())
                return Estimate(m, True, "exact count", notices)
            if self._sample is None:
                rng = np.random.default_rng(0)
                self._sample = np.sort(rng.choice(n, SAMPLE, replace=False))
            hits = int(self.matches_rows(where, self._sample).sum())
            return Estimate(round(hits / SAMPLE * n), False, f"sample of {SAMPLE} rows", notices)

    def _sql_matches(self, where: dict[str, Any], pks: np.ndarray) -> np.ndarray:
        return np.asarray(self.catalog.pks_matching(where, pks.tolist()), dtype=np.int64)

    def _eval(
        self, node: dict[str, Any], cols: dict[str, Column], rows: np.ndarray | None, size: int
    ) -> np.ndarray:
        mask = np.ones(size, dtype=bool)
        for key, value in node.items():
            if key == "$and":
                for v in value:
                    mask &= self._eval(v, cols, rows, size)
            elif key == "$or":
                anyof = np.zeros(size, dtype=bool)
                for v in value:
                    anyof |= self._eval(v, cols, rows, size)
                mask &= anyof
            elif key == "$not":
                mask &= ~self._eval(value, cols, rows, size)
            else:
                cond = value
                if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
                    cond = {"$eq": cond}
                for op, v in cond.items():
                    mask &= _op(cols[key], rows, op, v)
        return mask


def _op(col: Column, rows: np.ndarray | None, op: str, v: Any) -> np.ndarray:
    t = col.types if rows is None else col.types[rows]
    num = col.num if rows is None else col.num[rows]
    codes = col.codes if rows is None else col.codes[rows]
    if op == "$eq":
        return _eq(col, t, num, codes, v)
    if op == "$ne":
        return ~_eq(col, t, num, codes, v)
    if op in ("$in", "$nin"):
        anyof = np.zeros(len(t), dtype=bool)
        strs = [x for x in v if isinstance(x, str)]
        nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if strs:
            known = [c for c in (col.code(s) for s in strs) if c >= 0]
            anyof |= np.isin(codes, known) if known else False
        if nums:
            if any(not _exact_number(x) for x in nums):
                raise _NeedSQL
            anyof |= ((t == T_INT) | (t == T_REAL)) & np.isin(num, nums)
        for x in v:
            if not isinstance(x, (str, int, float)) or isinstance(x, bool):
                anyof |= _eq(col, t, num, codes, x)
        return anyof if op == "$in" else ~anyof
    if op in ("$gt", "$gte", "$lt", "$lte"):
        cmp = {"$gt": operator.gt, "$gte": operator.ge, "$lt": operator.lt, "$lte": operator.le}
        if isinstance(v, str):
            ok = np.fromiter((cmp[op](u, v) for u in col.uniques), bool, len(col.uniques))
            return col.string_mask(ok, codes)
        if not _exact_number(v):
            raise _NeedSQL
        with np.errstate(invalid="ignore"):
            return ((t == T_INT) | (t == T_REAL)) & cmp[op](num, v)
    if op == "$exists":
        return (t != T_MISSING) == bool(v)
    if op == "$contains":
        s = str(v)
        ok = np.fromiter((s in u for u in col.uniques), bool, len(col.uniques))
        return col.string_mask(ok, codes)  # arrays are complex rows: SQLite answers
    raise _NeedSQL


def _exact_number(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, float):
        return math.isfinite(v) and abs(v) < _EXACT_INT
    return abs(v) < _EXACT_INT


def _eq(col: Column, t: np.ndarray, num: np.ndarray, codes: np.ndarray, v: Any) -> np.ndarray:
    if v is None:
        return t == T_NULL
    if isinstance(v, bool):
        return t == (T_TRUE if v else T_FALSE)
    if isinstance(v, (int, float)):
        if not _exact_number(v):
            raise _NeedSQL
        return ((t == T_INT) | (t == T_REAL)) & (num == v)
    if isinstance(v, str):
        c = col.code(v)
        return codes == c if c >= 0 else np.zeros(len(t), dtype=bool)
    raise _NeedSQL
