"""The SQLite catalog: the source of truth of a collection.

It holds documents, chunks (with their metadata), float32 embeddings and the FTS5 table for BM25.
Every write runs in one ``BEGIN IMMEDIATE`` transaction that also bumps ``settings.version``;
vector index files record the version they cover, which is how a stale index is detected.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import (
    CollectionClosedError,
    CollectionError,
    CollectionLockedError,
    EmbeddingMismatchError,
)
from ponder.store.filters import compile_where, json_path
from ponder.store.migrations import migrate
from ponder.types import Chunk

_CHUNK_COLS = (
    "c.pk, c.id, c.doc_id, c.ordinal, c.text, c.start, c.end, c.page, c.heading, c.metadata"
)
_SQL_VARS = 900
_WORDS = re.compile(r"\w+", re.UNICODE)  # stay under SQLite's bound-parameter limit


def text_hash(text: str) -> str:
    """The hash a chunk's text is stored under (how vectors of identical texts are reused).

    >>> text_hash("cats purr")
    '19588431d1ea8b941965e0fba34d60b8'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class ChunkRow:
    """A chunk to write, with its text hash and vector."""

    chunk: Chunk
    text_hash: str
    vector: np.ndarray


def _row_to_chunk(row: sqlite3.Row | tuple[Any, ...], source: str | None) -> Chunk:
    _, cid, doc_id, ordinal, text, start, end, page, heading, meta = row[:10]
    return Chunk(
        id=cid,
        doc_id=doc_id,
        text=text,
        source=source,
        start=start,
        end=end,
        page=page,
        heading_path=tuple(json.loads(heading)),
        metadata=json.loads(meta),
        ordinal=ordinal,
    )


def _batches(items: Sequence[Any], size: int = _SQL_VARS) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Catalog:
    """One collection's ``catalog.sqlite``. Not shared between threads for writing."""

    def __init__(self, path: Path, *, timeout: float = 30.0, name: str = "") -> None:
        self.path = path
        self.name = name or path.parent.name
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self._in_write = False
        try:
            migrate(self.conn)
        except sqlite3.OperationalError as e:
            raise self._locked(e) from e

    @property
    def conn(self) -> sqlite3.Connection:
        """The open connection; a closed catalog raises ``CollectionClosedError`` (naming the
        collection and the fix) instead of sqlite's bare "Cannot operate on a closed
        database"."""
        if self._conn is None:
            raise CollectionClosedError(
                f"collection {self.name!r} was closed (its `with` block ended or close() was "
                "called); use it inside `with Collection.open(...)`, or open it again"
            )
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ transactions
    def _locked(self, e: sqlite3.OperationalError) -> Exception:
        if "locked" in str(e) or "busy" in str(e):
            return CollectionLockedError(
                f"collection {self.name!r} is being written by another process (waited "
                f"{self.timeout:.0f}s); wait for it to finish, then retry"
            )
        return e

    @contextmanager
    def write(self, *, bump: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; bumps the catalog version (``bump=False``: for writes no
        reader's view depends on, such as a migration's shadow vectors). Rolled back on any
        exception, KeyboardInterrupt included, so a collection is never left half-written."""
        if self._in_write:  # nested: part of the outer transaction
            yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise self._locked(e) from e
        self._in_write = True
        try:
            yield self.conn
            if bump:
                self.conn.execute(
                    "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"
                )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        finally:
            self._in_write = False

    def version(self) -> int:
        row = self.conn.execute("SELECT value FROM settings WHERE key = 'version'").fetchone()
        return int(row[0])

    @contextmanager
    def read(self) -> Iterator[None]:
        """One consistent snapshot for several reads (nested: part of the outer one)."""
        own = not self.conn.in_transaction
        if own:
            self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if own:
                self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ settings
    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_settings(self, values: dict[str, Any], *, bump: bool = True) -> None:
        with self.write(bump=bump) as db:
            db.executemany(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    # ------------------------------------------------------------------ documents
    def documents_for_source(self, source: str) -> dict[str, tuple[str | None, str]]:
        """``{doc_id: (file_hash, content_hash)}`` for the documents loaded from ``source``."""
        rows = self.conn.execute(
            "SELECT id, file_hash, content_hash FROM documents WHERE source = ?", (source,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def document_hashes(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for batch in _batches(list(ids)):
            q = ",".join("?" * len(batch))
            for r in self.conn.execute(
                f"SELECT id, content_hash FROM documents WHERE id IN ({q})", batch
            ):
                out[r[0]] = r[1]
        return out

    def set_file_hash(self, doc_id: str, file_hash: str) -> None:
        """Record new file bytes that gave a document the same text (its own transaction)."""
        with self.write() as db:
            db.execute("UPDATE documents SET file_hash = ? WHERE id = ?", (file_hash, doc_id))

    def require_model(self, model: str) -> None:
        """Inside ``write()``: refuse vectors of ``model`` once the collection has switched to
        another embedding model (``ponder collections migrate``) since they were computed."""
        current = self.get_setting("config", {}).get("model_id")
        if current is not None and current != model:
            raise EmbeddingMismatchError(
                f"collection {self.name!r} now holds {current!r} vectors (it was migrated "
                f"meanwhile), these are {model!r}; nothing was written: run the write again"
            )

    def sources(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT DISTINCT source FROM documents WHERE source IS NOT NULL ORDER BY source"
        )
        return [r[0] for r in rows]

    def write_document(
        self,
        *,
        doc_id: str,
        source: str | None,
        file_hash: str | None,
        content_hash: str,
        metadata: dict[str, Any],
        chunks: Sequence[ChunkRow],
        model: str,
    ) -> tuple[list[int], list[int], np.ndarray]:
        """Replace a document and its chunks; return (removed pks, added pks, added vectors).

        Must run inside ``write()``; the caller commits.
        """
        db = self.conn
        now = time.time()
        removed = [r[0] for r in db.execute("SELECT pk FROM chunks WHERE doc_id = ?", (doc_id,))]
        existing = db.execute("SELECT added_at FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if removed:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute(
            "INSERT INTO documents(id, source, file_hash, content_hash, metadata, added_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
            "source = excluded.source, file_hash = excluded.file_hash, content_hash = "
            "excluded.content_hash, metadata = excluded.metadata, updated_at = excluded.updated_at",
            (
                doc_id,
                source,
                file_hash,
                content_hash,
                json.dumps(metadata),
                existing[0] if existing else now,
                now,
            ),
        )
        db.executemany(
            "INSERT INTO chunks(id, doc_id, ordinal, text, text_hash, start, end, page, "
            "heading, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.chunk.id,
                    doc_id,
                    r.chunk.ordinal,
                    r.chunk.text,
                    r.text_hash,
                    r.chunk.start,
                    r.chunk.end,
                    r.chunk.page,
                    json.dumps(list(r.chunk.heading_path)),
                    json.dumps(r.chunk.metadata, default=str),
                )
                for r in chunks
            ],
        )
        # the document's old chunks are gone, so its rows are exactly the ones just inserted,
        # in insertion order (AUTOINCREMENT pks only grow)
        rows = db.execute("SELECT pk FROM chunks WHERE doc_id = ? ORDER BY pk", (doc_id,))
        added = [r[0] for r in rows]
        vectors = (
            np.vstack([np.asarray(r.vector, dtype=np.float32) for r in chunks])
            if chunks
            else np.zeros((0, 0), dtype=np.float32)
        )
        db.executemany(
            "INSERT INTO embeddings(chunk_pk, model, vector) VALUES (?, ?, ?)",
            [(pk, model, vectors[i].tobytes()) for i, pk in enumerate(added)],
        )
        return removed, added, vectors

    def write_records(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        vectors: np.ndarray,
        model: str,
    ) -> tuple[list[int], list[int]]:
        """Write each record as a one-chunk document of its own id (``Collection.add``);
        return (removed pks, added pks). Must run inside ``write()``."""
        removed_all: list[int] = []
        added_all: list[int] = []
        for i, cid in enumerate(ids):
            text, meta = texts[i], metadatas[i]
            chunk = Chunk(id=cid, doc_id=cid, text=text, end=len(text), metadata=meta)
            removed, added, _ = self.write_document(
                doc_id=cid,
                source=None,
                file_hash=None,
                content_hash=text_hash(text + json.dumps(meta, sort_keys=True)),
                metadata=meta,
                chunks=[ChunkRow(chunk, text_hash(text), vectors[i])],
                model=model,
            )
            removed_all += removed
            added_all += added
        return removed_all, added_all

    def delete_documents(self, ids: Iterable[str]) -> list[int]:
        """Delete documents (and their chunks); return the removed chunk pks. Inside ``write()``."""
        removed: list[int] = []
        ids = list(ids)
        for batch in _batches(ids):
            q = ",".join("?" * len(batch))
            removed += [
                r[0]
                for r in self.conn.execute(f"SELECT pk FROM chunks WHERE doc_id IN ({q})", batch)
            ]
            self.conn.execute(f"DELETE FROM documents WHERE id IN ({q})", batch)
        return removed

    def delete_chunks(self, pks: Sequence[int]) -> None:
        """Delete chunks by pk, and documents left without chunks. Inside ``write()``."""
        for batch in _batches(list(pks)):
            q = ",".join("?" * len(batch))
            self.conn.execute(f"DELETE FROM chunks WHERE pk IN ({q})", batch)
        self.conn.execute(
            "DELETE FROM documents WHERE NOT EXISTS "
            "(SELECT 1 FROM chunks WHERE chunks.doc_id = documents.id)"
        )

    def update_chunk_metadata(self, pk: int, metadata: dict[str, Any]) -> None:
        self.conn.execute(
            "UPDATE chunks SET metadata = ? WHERE pk = ?", (json.dumps(metadata, default=str), pk)
        )

    # ------------------------------------------------------------------ reads
    def cached_vectors(self, text_hashes: Sequence[str], model: str) -> dict[str, np.ndarray]:
        """Vectors already computed for these texts by this model (never re-embed them)."""
        out: dict[str, np.ndarray] = {}
        for batch in _batches(list(set(text_hashes))):
            q = ",".join("?" * len(batch))
            rows = self.conn.execute(
                f"SELECT c.text_hash, e.vector FROM chunks c JOIN embeddings e "
                f"ON e.chunk_pk = c.pk WHERE e.model = ? AND c.text_hash IN ({q})",
                [model, *batch],
            )
            for h, blob in rows:
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def pks_for_ids(self, ids: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for batch in _batches(list(ids)):
            q = ",".join("?" * len(batch))
            for r in self.conn.execute(f"SELECT id, pk FROM chunks WHERE id IN ({q})", batch):
                out[r[0]] = r[1]
        return out

    def chunks_by_pk(self, pks: Sequence[int]) -> dict[int, Chunk]:
        out: dict[int, Chunk] = {}
        for batch in _batches(list(pks)):
            q = ",".join("?" * len(batch))
            rows = self.conn.execute(
                f"SELECT {_CHUNK_COLS}, d.source FROM chunks c JOIN documents d "
                f"ON d.id = c.doc_id WHERE c.pk IN ({q})",
                batch,
            )
            for r in rows:
                out[r[0]] = _row_to_chunk(r, r[10])
        return out

    def vectors_by_pk(self, pks: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for batch in _batches(list(pks)):
            q = ",".join("?" * len(batch))
            for pk, blob in self.conn.execute(
                f"SELECT chunk_pk, vector FROM embeddings WHERE chunk_pk IN ({q})", batch
            ):
                out[pk] = np.frombuffer(blob, dtype=np.float32)
        return out

    def all_vectors(self, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Every (pk, vector) in pk order: what a vector index is built from."""
        rows = self.conn.execute("SELECT chunk_pk, vector FROM embeddings ORDER BY chunk_pk")
        pks: list[int] = []
        blobs: list[bytes] = []
        for pk, blob in rows:
            pks.append(pk)
            blobs.append(blob)
        if not pks:
            return np.zeros(0, dtype=np.int64), np.zeros((0, dim), dtype=np.float32)
        mat = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(pks), dim)
        return np.asarray(pks, dtype=np.int64), mat

    def all_pks(self) -> np.ndarray:
        rows = self.conn.execute("SELECT chunk_pk FROM embeddings ORDER BY chunk_pk").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def pks_where(self, where: dict[str, Any] | None) -> np.ndarray:
        """The pks of the chunks that match a filter (all chunks for ``None``)."""
        if not where:
            return self.all_pks()
        sql, params = compile_where(where, "metadata")
        rows = self.conn.execute(f"SELECT pk FROM chunks WHERE {sql} ORDER BY pk", params)
        return np.asarray([r[0] for r in rows], dtype=np.int64)

    def bm25(
        self, query: str, k: int, where: dict[str, Any] | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over the FTS5 table: ``[(pk, score)]`` best first (score higher is better).

        The query's words are OR-ed (any word may match), each quoted so that FTS5 syntax in
        user text is inert.
        """
        words = _WORDS.findall(query.lower())
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', "") + '"' for w in dict.fromkeys(words))
        sql = "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?"
        params: list[Any] = [match]
        if where:
            fsql, fparams = compile_where(where, "metadata")
            sql += f" AND rowid IN (SELECT pk FROM chunks WHERE {fsql})"
            params += fparams
        sql += " ORDER BY bm25(chunks_fts) LIMIT ?"
        params.append(k)
        return [(int(pk), -float(s)) for pk, s in self.conn.execute(sql, params)]

    def count_chunks(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def count_documents(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def models(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT model FROM embeddings")]

    def vectors_for_ids(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by chunk id (unknown ids are left out)."""
        out: dict[str, np.ndarray] = {}
        for batch in _batches(list(ids)):
            q = ",".join("?" * len(batch))
            for cid, blob in self.conn.execute(
                f"SELECT c.id, e.vector FROM chunks c JOIN embeddings e ON e.chunk_pk = c.pk "
                f"WHERE c.id IN ({q})",
                batch,
            ):
                out[cid] = np.frombuffer(blob, dtype=np.float32)
        return out

    # ------------------------------------------------------------------ metadata columns
    def chunk_pks(self) -> np.ndarray:
        """Every chunk's pk, ascending (the row order of ``metadata_field``)."""
        rows = self.conn.execute("SELECT pk FROM chunks ORDER BY pk").fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def metadata_field(self, field: str) -> list[tuple[str | None, Any]]:
        """``(json type, value)`` of one metadata field for every chunk, in pk order."""
        path = json_path(field)
        return self.conn.execute(
            "SELECT json_type(metadata, ?), json_extract(metadata, ?) FROM chunks ORDER BY pk",
            (path, path),
        ).fetchall()

    def pks_matching(self, where: dict[str, Any], pks: Sequence[int]) -> list[int]:
        """Which of ``pks`` match a filter, answered by SQLite."""
        sql, params = compile_where(where, "metadata")
        out: list[int] = []
        for batch in _batches(list(pks)):
            q = ",".join("?" * len(batch))
            rows = self.conn.execute(
                f"SELECT pk FROM chunks WHERE pk IN ({q}) AND {sql}", [*batch, *params]
            )
            out += [r[0] for r in rows]
        return out

    # ------------------------------------------------------------------ embedding migration
    def chunks_without_shadow(self, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` ``(pk, text)`` of chunks not yet re-embedded, in pk order."""
        return self.conn.execute(
            "SELECT c.pk, c.text FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM shadow_embeddings s WHERE s.chunk_pk = c.pk) ORDER BY c.pk LIMIT ?",
            (limit,),
        ).fetchall()

    def count_shadow(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM shadow_embeddings").fetchone()[0])

    def write_shadow(self, pks: Sequence[int], vectors: np.ndarray, model: str) -> bool:
        """Store re-embedded vectors beside the live ones: one transaction that no reader
        sees (the catalog version stays), so searches keep using the live vectors. ``False``
        (nothing written) unless a migration to ``model`` is still under way."""
        with self.write(bump=False) as db:
            if (self.get_setting("migration") or {}).get("model_id") != model:
                return False
            db.executemany(
                "INSERT OR REPLACE INTO shadow_embeddings(chunk_pk, vector) "
                "SELECT pk, ? FROM chunks WHERE pk = ?",
                [(vectors[i].tobytes(), pk) for i, pk in enumerate(pks)],
            )
        return True

    def switch_to_shadow(self, model: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Atomically make the shadow vectors the live ones (labelled ``model``), drop the old
        vectors and apply ``changes`` to the collection's config; return the new config, or
        ``None`` (nothing changed) if some chunk still lacks a shadow vector, e.g. one written
        since the last batch."""
        with self.write(bump=False) as db:
            if (self.get_setting("migration") or {}).get("model_id") != model:
                raise CollectionError(
                    f"the migration of {self.name!r} to {model!r} was aborted or finished by "
                    "another process; nothing was switched"
                )
            missing = db.execute(
                "SELECT 1 FROM chunks c WHERE NOT EXISTS "
                "(SELECT 1 FROM shadow_embeddings s WHERE s.chunk_pk = c.pk) LIMIT 1"
            ).fetchone()
            if missing:
                return None
            config = {**self.get_setting("config"), **changes}
            db.execute("DELETE FROM embeddings")
            db.execute(
                "INSERT INTO embeddings(chunk_pk, model, vector) "
                "SELECT chunk_pk, ?, vector FROM shadow_embeddings ORDER BY chunk_pk",
                (model,),
            )
            db.execute("DELETE FROM shadow_embeddings")
            db.execute("DELETE FROM settings WHERE key = 'migration'")
            db.execute("UPDATE settings SET value = ? WHERE key = 'config'", (json.dumps(config),))
            db.execute(
                "UPDATE settings SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"
            )
        return config

    def drop_shadow(self) -> None:
        """Forget an unfinished migration: its shadow vectors and its record."""
        with self.write(bump=False) as db:
            db.execute("DELETE FROM shadow_embeddings")
            db.execute("DELETE FROM settings WHERE key = 'migration'")
