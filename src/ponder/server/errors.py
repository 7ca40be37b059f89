"""Errors as HTTP answers: every ``PonderError`` gets a status and an OpenAI-style body
``{"error": {"message", "type", "param", "code"}}`` whose message names the problem.

>>> from ponder.errors import CollectionNotFoundError, FilterError
>>> error_payload(CollectionNotFoundError("no collection 'x'"))[0]
404
>>> error_payload(FilterError("unknown operator $foo"))[1]["error"]["type"]
'FilterError'
"""

from __future__ import annotations

from typing import Any

from ponder import errors as E
from ponder.server.generation import QueueFullError

# most specific first
_STATUS: list[tuple[type[BaseException], int]] = [
    (E.CollectionNotFoundError, 404),
    (E.ModelNotFoundError, 404),
    (E.CollectionExistsError, 409),
    (E.CollectionLockedError, 409),
    (E.EmbeddingMismatchError, 400),
    (E.ContextLengthError, 400),
    (E.ConfigError, 400),
    (E.InputError, 400),
    (E.BackendUnavailableError, 503),
    (E.GenerationError, 500),
    (E.VectorIndexError, 500),
]


def status_of(e: BaseException) -> int:
    status = getattr(e, "status", None)
    if isinstance(status, int):
        return status

    if isinstance(e, QueueFullError):
        return 429
    for cls, code in _STATUS:
        if isinstance(e, cls):
            return code
    return 400 if isinstance(e, E.PonderError) else 500


def error_payload(e: BaseException) -> tuple[int, dict[str, Any]]:
    status = status_of(e)
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status in (401, 403):
        kind = "authentication_error" if status == 401 else "permission_error"
    message = str(e) if isinstance(e, E.PonderError) else f"internal error: {type(e).__name__}"
    return status, {"error": {
        "message": message,
        "type": type(e).__name__ if isinstance(e, E.PonderError) else kind,
        "param": getattr(e, "param", None),
        "code": status,
    }}


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """One line naming each bad field (``body.messages.0.role: ...``) and the first field."""
    parts, first = [], None
    for err in errors[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        name = ".".join(loc) or "body"
        first = first or name
        msg = err.get("msg", "invalid")
        if err.get("type") == "extra_forbidden":
            msg = "unknown field; remove it"
        elif err.get("type") == "json_invalid":
            msg = f"malformed JSON ({err.get('ctx', {}).get('error', 'cannot parse')})"
        parts.append(f"{name}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more, first


__all__ = ["error_payload", "status_of", "validation_message"]
