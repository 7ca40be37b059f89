"""The server's limits and the checks that enforce them with clear 4xx errors.

>>> Limits().max_k
100
>>> where_depth({"$or": [{"a": 1}, {"b": {"$gte": 2}}]})
3
>>> check_where({"a": {"$in": [1, 2]}}, Limits())
>>> check_where({"$and": [{"$and": [{"$and": [{"a": 1}]}]}]}, Limits(max_filter_depth=3))
Traceback (most recent call last):
...
ponder.server.limits.LimitError: where: filter nests 4 levels deep; the limit is 3: flatten it
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ponder.errors import InputError


class LimitError(InputError):
    """A request over one of the server's limits (HTTP 413 or 400)."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param


@dataclass(frozen=True)
class Limits:
    """What one request may ask for. Sizes are bytes; times are seconds."""

    max_body_bytes: int = 2 * 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    max_k: int = 100
    max_tokens: int = 2048
    max_filter_depth: int = 8
    max_batch_texts: int = 256
    max_task_texts: int = 32
    request_timeout: float = 300.0
    queue_size: int = 8
    embed_wait_ms: float = 2.0
    embed_max_batch: int = 64


def where_depth(where: Any) -> int:
    """How deeply a filter nests (a flat ``{"a": 1}`` is 1)."""
    if isinstance(where, dict):
        return 1 + max((where_depth(v) for v in where.values()), default=0)
    if isinstance(where, list):
        return max((where_depth(v) for v in where), default=0)
    return 0


def check_where(where: Any, limits: Limits) -> None:
    if where is None:
        return
    depth = where_depth(where)
    if depth > limits.max_filter_depth:
        raise LimitError(
            f"where: filter nests {depth} levels deep; the limit is {limits.max_filter_depth}: "
            "flatten it", param="where",
        )


def check_k(k: int, limits: Limits) -> None:
    if k > limits.max_k:
        raise LimitError(f"k={k} is over the limit of {limits.max_k}: ask for fewer results",
                         param="k")


def check_max_tokens(n: int | None, limits: Limits, field: str = "max_tokens") -> None:
    if n is not None and n > limits.max_tokens:
        raise LimitError(
            f"{field}={n} is over the server's limit of {limits.max_tokens} tokens: ask for "
            "fewer", param=field,
        )


def check_count(n: int, most: int, field: str) -> None:
    if n > most:
        raise LimitError(f"{field}: {n} items, the limit is {most}: send them in smaller batches",
                         param=field)


__all__ = ["LimitError", "Limits", "check_count", "check_k", "check_max_tokens", "check_where",
           "where_depth"]
