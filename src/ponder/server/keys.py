"""API keys: created once, stored only as a SHA-256 hash in ``$PONDER_HOME/keys.sqlite``.

A key has a scope (``read`` < ``write`` < ``admin``: each includes the ones before) and,
optionally, the collections it may touch. The key text itself is shown once, by ``create``.

>>> import tempfile
>>> store = KeyStore(tempfile.mkdtemp())
>>> key, rec = store.create("write", collections=["notes"], name="ci")
>>> key.startswith("pk_"), rec.scope, rec.collections
(True, 'write', ('notes',))
>>> store.lookup(key).name, store.lookup("pk_wrong")
('ci', None)
>>> store.lookup(key).allows("read", "notes"), store.lookup(key).allows("admin", None)
(True, False)
>>> store.revoke(rec.id); store.lookup(key) is None
True
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, InputError

SCOPES = ("read", "write", "admin")
PREFIX = "pk_"


def hash_key(key: str) -> str:
    """The stored form of a key (SHA-256, hex)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    return scope


@dataclass(frozen=True)
class KeyRecord:
    """A stored key (never the key itself): ``id`` is a short public handle for revoking."""

    id: str
    name: str
    scope: str
    collections: tuple[str, ...]
    created: float
    revoked: bool = False

    def allows(self, scope: str, collection: str | None) -> bool:
        """Whether this key may do ``scope`` work on ``collection`` (``None``: no collection)."""
        if SCOPES.index(self.scope) < SCOPES.index(scope):
            return False
        return not (self.collections and collection is not None
                    and collection not in self.collections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "scope": self.scope,
            "collections": list(self.collections), "created": self.created,
            "revoked": self.revoked,
        }


class KeyStore:
    """The key table of one Ponder home. Thread-safe; cheap to ask ``any_keys``."""

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home).expanduser() / "keys.sqlite"
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._cache: tuple[float, bool] | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=10)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL,"
                " name TEXT NOT NULL, scope TEXT NOT NULL, collections TEXT NOT NULL,"
                " created REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)"
            )
            conn.commit()
            self._conn = conn
        return self._conn

    def create(
        self, scope: str, *, collections: list[str] | None = None, name: str | None = None
    ) -> tuple[str, KeyRecord]:
        """Make a key; return ``(key, record)``. The key is not stored and cannot be shown
        again."""
        check_scope(scope)
        cols = tuple(sorted({c.strip() for c in collections or [] if c.strip()}))
        key = PREFIX + secrets.token_urlsafe(32)
        kid = secrets.token_hex(4)
        rec = KeyRecord(kid, name or f"key-{kid}", scope, cols, time.time())
        with self._lock:
            db = self._db()
            db.execute(
                "INSERT INTO keys (id, hash, name, scope, collections, created) VALUES "
                "(?, ?, ?, ?, ?, ?)",
                (rec.id, hash_key(key), rec.name, scope, json.dumps(list(cols)), rec.created),
            )
            db.commit()
            self._cache = None
        return key, rec

    def list(self, *, include_revoked: bool = False) -> list[KeyRecord]:
        if not self.path.exists():
            return []
        with self._lock:
            rows = self._db().execute(
                "SELECT id, name, scope, collections, created, revoked FROM keys ORDER BY created"
            ).fetchall()
        out = [KeyRecord(r[0], r[1], r[2], tuple(json.loads(r[3])), r[4], bool(r[5]))
               for r in rows]
        return out if include_revoked else [r for r in out if not r.revoked]

    def revoke(self, key_id: str) -> None:
        """Revoke by id (or by name when the name is unique)."""
        with self._lock:
            db = self._db()
            rows = db.execute(
                "SELECT id FROM keys WHERE (id = ? OR name = ?) AND revoked = 0", (key_id, key_id)
            ).fetchall()
            if not rows:
                raise InputError(
                    f"no active key with id or name {key_id!r}: see `ponder keys list`"
                )
            if len(rows) > 1:
                raise InputError(f"{len(rows)} keys are named {key_id!r}: revoke by id instead")
            db.execute("UPDATE keys SET revoked = 1 WHERE id = ?", (rows[0][0],))
            db.commit()
            self._cache = None

    def any_keys(self) -> bool:
        """True when at least one active key exists (then every request needs one).
        Re-read at most once a second, so keys made by the CLI apply to a running server."""
        now = time.monotonic()
        if self._cache is not None and now - self._cache[0] < 1.0:
            return self._cache[1]
        found = bool(self.list())
        self._cache = (now, found)
        return found

    def lookup(self, key: str) -> KeyRecord | None:
        """The active record for ``key``, or ``None``."""
        if not key or not self.path.exists():
            return None
        with self._lock:
            row = self._db().execute(
                "SELECT id, name, scope, collections, created FROM keys "
                "WHERE hash = ? AND revoked = 0", (hash_key(key),)
            ).fetchone()
        if row is None:
            return None
        return KeyRecord(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


__all__ = ["SCOPES", "KeyRecord", "KeyStore", "check_scope", "hash_key"]
