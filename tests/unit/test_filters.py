from __future__ import annotations

import json
import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ponder.errors import FilterError
from ponder.store.filters import compile_where, matches, parse_where

DOCS = [
    {"topic": "science", "year": 2021, "tags": ["ai", "ml"], "score": 0.5, "ok": True},
    {"topic": "art", "year": 2019, "tags": ["paint"], "ok": False},
    {"topic": "science", "year": 2024, "author": {"name": "Ada"}},
    {"topic": "history", "year": "1999", "tags": []},
    {"year": 2020, "score": 3},
    {},
]


def sql_matches(where):
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (i INTEGER, metadata TEXT)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [(i, json.dumps(d)) for i, d in enumerate(DOCS)])
    sql, params = compile_where(where)
    return [r[0] for r in db.execute(f"SELECT i FROM t WHERE {sql} ORDER BY i", params)]


def py_matches(where):
    return [i for i, d in enumerate(DOCS) if matches(d, where)]


CASES = [
    ({"topic": "science"}, [0, 2]),
    ({"year": {"$gte": 2020}}, [0, 2, 4]),
    ({"year": {"$gt": 2019, "$lt": 2024}}, [0, 4]),
    ({"$or": [{"topic": "art"}, {"year": 2024}]}, [1, 2]),
    ({"$not": {"topic": "science"}}, [1, 3, 4, 5]),
    ({"topic": {"$ne": "science"}}, [1, 3, 4, 5]),
    ({"topic": {"$in": ["art", "history"]}}, [1, 3]),
    ({"topic": {"$nin": ["art", "history"]}}, [0, 2, 4, 5]),
    ({"tags": {"$contains": "ai"}}, [0]),
    ({"tags": "paint"}, [1]),
    ({"topic": {"$contains": "sci"}}, [0, 2]),
    ({"author": {"$exists": True}}, [2]),
    ({"author.name": "Ada"}, [2]),
    ({"ok": True}, [0]),
    ({"ok": False}, [1]),
    ({"year": "1999"}, [3]),
    ({"year": 1999}, []),
    ({"score": {"$lte": 1}}, [0]),
    ({"$and": [{"topic": "science"}, {"year": {"$lt": 2022}}]}, [0]),
    ({"nosuchfield": 1}, []),
    ({"nosuchfield": {"$ne": 1}}, [0, 1, 2, 3, 4, 5]),
    ({"topic": {"$in": []}}, []),
]


@pytest.mark.parametrize(("where", "expected"), CASES)
def test_sql_and_python_agree_with_expected(where, expected):
    assert sql_matches(where) == expected
    assert py_matches(where) == expected


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"year": {"$gteq": 1}}, "$gteq"),
        ({"$xor": []}, "$xor"),
        ({"$or": []}, "$or"),
        ({"year": {"$in": 3}}, "$in"),
        ({"bad field!": 1}, "bad field!"),
        ({"year": {"$gt": None}}, "$gt"),
        ({"x": {"$exists": "yes"}}, "$exists"),
    ],
)
def test_invalid_filters_name_the_problem(where, fragment):
    with pytest.raises(FilterError, match=fragment.replace("$", r"\$")):
        parse_where(where)


def test_parse_where_accepts_json_and_rejects_bad_json():
    assert parse_where('{"a": 1}') == {"a": 1}
    assert parse_where(None) is None
    with pytest.raises(FilterError, match="not valid JSON"):
        parse_where("{a: 1}")


scalars = st.one_of(
    st.sampled_from(["science", "art", "x"]), st.integers(2018, 2025), st.booleans()
)
fields = st.sampled_from(["topic", "year", "tags", "ok", "score", "missing"])
leaf = st.one_of(
    st.builds(lambda f, v: {f: v}, fields, scalars),
    st.builds(lambda f, op, v: {f: {op: v}}, fields, st.sampled_from(["$eq", "$ne"]), scalars),
    st.builds(
        lambda f, op, v: {f: {op: v}},
        fields,
        st.sampled_from(["$gt", "$lte"]),
        st.integers(2018, 2025),
    ),
    st.builds(lambda f, vs: {f: {"$in": vs}}, fields, st.lists(scalars, max_size=3)),
    st.builds(lambda f, b: {f: {"$exists": b}}, fields, st.booleans()),
)
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda xs: {"$or": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"$and": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"$not": x}, inner),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(filters)
def test_sql_compiler_matches_python_evaluator(where):
    assert sql_matches(where) == py_matches(where)
