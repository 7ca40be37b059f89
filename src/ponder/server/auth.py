"""Bearer-key checks. With no key in the home, everything is open (the server then binds to
loopback unless ``--insecure``); once a key exists, every endpoint but ``/health`` needs
``Authorization: Bearer KEY``: none or an unknown key is 401, a key outside its scope or its
collections is 403. Keys are compared by hash and never logged.

>>> AuthError("x", 401).status
401
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ponder.errors import PonderError
from ponder.server.keys import KeyRecord

bearer = HTTPBearer(auto_error=False, description="A key from `ponder keys create`.")


class AuthError(PonderError):
    """401 (no or unknown key) or 403 (outside the key's scope or collections)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _state(request: Request) -> Any:
    return request.app.state.ponder


async def caller(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)  # noqa: B008
) -> KeyRecord | None:
    """The key record of the request (``None`` when the server has no keys)."""
    state = _state(request)
    if not state.keys.any_keys():
        return None
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise AuthError(
            "this server needs an API key: send the header 'Authorization: Bearer KEY' "
            "(make one with `ponder keys create --scope read`)", 401,
        )
    rec = await state.in_io(state.keys.lookup, creds.credentials)
    if rec is None:
        raise AuthError("unknown or revoked API key: check the key, or create a new one with "
                        "`ponder keys create`", 401)
    return rec


Caller = Annotated[KeyRecord | None, Depends(caller)]
"""A route parameter: ``key: Caller`` is the request's key record (``None``: open server)."""


def authorize(rec: KeyRecord | None, scope: str, collection: str | None = None) -> None:
    """Raise 403 unless ``rec`` (``None``: open server) may do ``scope`` on ``collection``."""
    if rec is None or rec.allows(scope, collection):
        return
    if not rec.allows(scope, None):
        raise AuthError(f"key {rec.name!r} has scope {rec.scope!r}; this needs {scope!r}", 403)
    raise AuthError(
        f"key {rec.name!r} may use only the collections {list(rec.collections)}, not "
        f"{collection!r}", 403,
    )


def may_see(rec: KeyRecord | None, collection: str) -> bool:
    return rec is None or not rec.collections or collection in rec.collections


__all__ = ["AuthError", "Caller", "authorize", "bearer", "caller", "may_see"]
