"""The ``where`` filter language, documented once here.

A filter is a JSON object over chunk metadata, in the style of MongoDB and Chroma::

    {"topic": "science"}                          # equality (shorthand for {"$eq": ...})
    {"year": {"$gte": 2020, "$lt": 2024}}         # several operators on one field: all must hold
    {"$or": [{"topic": "a"}, {"topic": "b"}]}     # logical operators take a list of filters
    {"$not": {"lang": "en"}}                      # negation of a filter
    {"tags": {"$contains": "urgent"}}             # list membership, or substring of a string
    {"author": {"$exists": False}}                # field present (True) or absent (False)
    {"a.b": 1}                                    # dotted paths reach into nested objects

Field operators: ``$eq $ne $gt $gte $lt $lte $in $nin $exists $contains``.
Logical operators: ``$and $or`` (non-empty lists) and ``$not`` (one filter).
Several keys in one object are joined with AND.

Semantics, chosen to match MongoDB:

- comparisons (``$gt`` ...) only match values of a comparable type: numbers with numbers,
  strings with strings; a missing field never matches them;
- ``$ne`` and ``$nin`` also match chunks that lack the field;
- ``$eq`` on a list field matches when the list equals the value or contains it.

Field names are letters, digits, ``_``, ``-`` and dots. Anything else raises ``FilterError``
naming the operator or field and what would be valid.

>>> sql, params = compile_where({"year": {"$gte": 2020}})
>>> sql
"(json_type(metadata, ?) IN ('integer', 'real') AND json_extract(metadata, ?) >= ?)"
>>> params
['$."year"', '$."year"', 2020]
>>> matches({"year": 2021, "topic": "ai"}, {"$or": [{"topic": "x"}, {"year": {"$gt": 2020}}]})
True
"""

from __future__ import annotations

import json
import re
from typing import Any

from ponder.errors import FilterError

FIELD_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$contains")
LOGIC_OPS = ("$and", "$or", "$not")
_FIELD = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
Scalar = str | int | float | bool | None


def parse_where(where: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Accept a filter as a dict or a JSON string (as the CLI gives it)."""
    if where is None or where == "" or where == {}:
        return None
    if isinstance(where, str):
        try:
            where = json.loads(where)
        except json.JSONDecodeError as e:
            raise FilterError(
                f"--where is not valid JSON ({e.msg} at char {e.pos}); "
                'example: --where \'{"topic": "science", "year": {"$gte": 2020}}\''
            ) from None
    if not isinstance(where, dict):
        raise FilterError(f"a filter must be a JSON object, got {type(where).__name__}")
    validate(where)
    return where


def validate(where: dict[str, Any]) -> None:
    """Raise ``FilterError`` for an invalid filter; the message names the bad part."""
    compile_where(where)


def json_path(field: str) -> str:
    """The SQLite JSON path of a (dotted) metadata field, checked.

    >>> json_path("meta.year")
    '$."meta"."year"'
    """
    if not isinstance(field, str) or not _FIELD.match(field):
        raise FilterError(
            f"invalid field name {field!r}: use letters, digits, '_', '-' and dots for nesting"
            + (
                "; operators start with '$' and go inside a field"
                if str(field).startswith("$")
                else ""
            )
        )
    return "$" + "".join(f'."{part}"' for part in field.split("."))


def _scalar(op: str, field: str, value: Any) -> Scalar:
    if isinstance(value, (dict, list)):
        raise FilterError(f"{op} on field {field!r} needs a single value, got {json.dumps(value)}")
    return value


def _sql_value(value: Scalar) -> Scalar:
    # JSON booleans come out of json_extract as 0/1.
    if isinstance(value, bool):
        return int(value)
    return value


def compile_where(where: dict[str, Any], column: str = "metadata") -> tuple[str, list[Any]]:
    """Compile a filter to a SQL boolean expression over a JSON ``column`` plus parameters."""
    params: list[Any] = []
    sql = _compile(where, column, params)
    return sql, params


def _compile(node: Any, column: str, params: list[Any]) -> str:
    if not isinstance(node, dict):
        raise FilterError(f"expected a filter object, got {json.dumps(node)}")
    if not node:
        return "1"
    parts = []
    for key, value in node.items():
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not value:
                raise FilterError(
                    f"{key} needs a non-empty list of filters, got {json.dumps(value)}"
                )
            subs = [_compile(v, column, params) for v in value]
            joiner = " AND " if key == "$and" else " OR "
            parts.append("(" + joiner.join(subs) + ")")
        elif key == "$not":
            parts.append(f"(NOT COALESCE({_compile(value, column, params)}, 0))")
        elif key.startswith("$"):
            raise FilterError(
                f"unknown operator {key!r} at the top level; logical operators are "
                f"{', '.join(LOGIC_OPS)} and field operators go inside a field: "
                '{"field": {"$gt": 1}}'
            )
        else:
            parts.append(_compile_field(key, value, column, params))
    return "(" + " AND ".join(parts) + ")" if len(parts) > 1 else parts[0]


def _compile_field(field: str, cond: Any, column: str, params: list[Any]) -> str:
    path = json_path(field)
    if not (isinstance(cond, dict) and cond and all(str(k).startswith("$") for k in cond)):
        if isinstance(cond, dict) and any(str(k).startswith("$") for k in cond):
            raise FilterError(f"field {field!r}: do not mix operators and plain keys in {cond}")
        cond = {"$eq": cond}
    parts = []
    for op, value in cond.items():
        parts.append(_compile_op(field, path, op, value, column, params))
    return "(" + " AND ".join(parts) + ")" if len(parts) > 1 else parts[0]


def _compile_op(field: str, path: str, op: str, value: Any, column: str, params: list[Any]) -> str:
    ext = f"json_extract({column}, ?)"
    typ = f"json_type({column}, ?)"
    if op == "$eq" or op == "$ne":
        v = _scalar(op, field, value)
        if v is None:
            params.append(path)
            eq = f"({typ} = 'null')"
        else:
            params.extend([path, _sql_value(v), path, path, _sql_value(v)])
            eq = (
                f"({ext} = ? OR ({typ} = 'array' AND EXISTS (SELECT 1 FROM "
                f"json_each({column}, ?) WHERE value = ?)))"
            )
            if isinstance(v, bool):
                params.append(path)
                eq = f"({eq} AND {typ} IN ('true', 'false', 'array'))"
            elif isinstance(v, (int, float)):
                params.append(path)
                eq = f"({eq} AND {typ} IN ('integer', 'real', 'array'))"
        return eq if op == "$eq" else f"(NOT COALESCE({eq}, 0))"
    if op in ("$gt", "$gte", "$lt", "$lte"):
        v = _scalar(op, field, value)
        if v is None or isinstance(v, bool):
            raise FilterError(f"{op} on field {field!r} needs a number or a string, got {v!r}")
        sym = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
        types = "('integer', 'real')" if isinstance(v, (int, float)) else "('text')"
        params.extend([path, path, v])
        return f"({typ} IN {types} AND {ext} {sym} ?)"
    if op in ("$in", "$nin"):
        if not isinstance(value, list):
            raise FilterError(f"{op} on field {field!r} needs a list, got {json.dumps(value)}")
        if not value:
            return "0" if op == "$in" else "1"
        subs = [_compile_op(field, path, "$eq", v, column, params) for v in value]
        anyof = "(" + " OR ".join(subs) + ")"
        return anyof if op == "$in" else f"(NOT COALESCE({anyof}, 0))"
    if op == "$exists":
        if not isinstance(value, bool):
            raise FilterError(f"$exists on field {field!r} needs true or false, got {value!r}")
        params.append(path)
        return f"({typ} IS {'NOT ' if value else ''}NULL)"
    if op == "$contains":
        v = _scalar(op, field, value)
        params.extend([path, path, _sql_value(v), path, path, str(v)])
        return (
            f"(({typ} = 'array' AND EXISTS (SELECT 1 FROM json_each({column}, ?) "
            f"WHERE value = ?)) OR ({typ} = 'text' AND instr({ext}, ?) > 0))"
        )
    raise FilterError(
        f"unknown operator {op!r} on field {field!r}; field operators are {', '.join(FIELD_OPS)}"
    )


# --------------------------------------------------------------------------- Python evaluator
_MISSING = object()


def _get(meta: dict[str, Any], field: str) -> Any:
    cur: Any = meta
    for part in field.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return _MISSING
        cur = cur[part]
    return cur


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _eq(actual: Any, v: Any) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(actual, list):
        return any(_eq(a, v) for a in actual) or actual == v
    if isinstance(v, bool) or isinstance(actual, bool):
        return isinstance(v, bool) and isinstance(actual, bool) and v == actual
    if _num(v):
        return _num(actual) and actual == v
    return bool(actual == v) and type(actual) is type(v) if v is not None else actual is None


def matches(meta: dict[str, Any], where: dict[str, Any] | None) -> bool:
    """Evaluate a filter in Python, with the same semantics as the SQL (used for post-filtering
    in memory and to cross-check the SQL compiler in tests)."""
    if not where:
        return True
    for key, value in where.items():
        if key == "$and":
            if not all(matches(meta, w) for w in value):
                return False
        elif key == "$or":
            if not any(matches(meta, w) for w in value):
                return False
        elif key == "$not":
            if matches(meta, value):
                return False
        else:
            cond = value
            if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
                cond = {"$eq": cond}
            actual = _get(meta, key)
            for op, v in cond.items():
                if not _match_op(actual, op, v):
                    return False
    return True


def _match_op(actual: Any, op: str, v: Any) -> bool:
    if op == "$eq":
        return _eq(actual, v)
    if op == "$ne":
        return not _eq(actual, v)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if _num(v):
            if not _num(actual):
                return False
        elif not (isinstance(v, str) and isinstance(actual, str)):
            return False
        return {"$gt": actual > v, "$gte": actual >= v, "$lt": actual < v, "$lte": actual <= v}[op]
    if op == "$in":
        return any(_eq(actual, x) for x in v)
    if op == "$nin":
        return not any(_eq(actual, x) for x in v)
    if op == "$exists":
        return (actual is not _MISSING) == v
    if op == "$contains":
        if isinstance(actual, list):
            return any(_eq(a, v) for a in actual)
        return isinstance(actual, str) and str(v) in actual
    raise FilterError(f"unknown operator {op!r}")
