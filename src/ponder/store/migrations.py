"""Numbered schema migrations for the collection catalog (``PRAGMA user_version`` holds the
number applied). Append new steps; never edit an applied one."""

from __future__ import annotations

import sqlite3

from ponder.errors import CollectionError

MIGRATIONS: list[str] = [
    # 1: documents, chunks, embeddings, settings, BM25 (FTS5 kept in step by triggers)
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        source TEXT,
        file_hash TEXT,
        content_hash TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX documents_source ON documents(source);
    CREATE TABLE chunks (
        pk INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        start INTEGER NOT NULL DEFAULT 0,
        end INTEGER NOT NULL DEFAULT 0,
        page INTEGER,
        heading TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX chunks_doc ON chunks(doc_id);
    CREATE INDEX chunks_text_hash ON chunks(text_hash);
    CREATE TABLE embeddings (
        chunk_pk INTEGER PRIMARY KEY REFERENCES chunks(pk) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL
    );
    CREATE VIRTUAL TABLE chunks_fts USING fts5(
        text, content='chunks', content_rowid='pk', tokenize='porter unicode61'
    );
    CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, text) VALUES (new.pk, new.text);
    END;
    CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.pk, old.text);
    END;
    CREATE TRIGGER chunks_au AFTER UPDATE OF text ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.pk, old.text);
        INSERT INTO chunks_fts(rowid, text) VALUES (new.pk, new.text);
    END;
    INSERT INTO settings(key, value) VALUES ('version', '0');
    """,
    # 2: vectors of another embedding model, written beside the live ones while a collection
    # is migrated (``ponder collections migrate``) and swapped in when all are there
    """
    CREATE TABLE shadow_embeddings (
        chunk_pk INTEGER PRIMARY KEY REFERENCES chunks(pk) ON DELETE CASCADE,
        vector BLOB NOT NULL
    );
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the pending migrations, each in its own transaction; return the schema version."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise CollectionError(
            f"this collection has schema version {current}, newer than this Ponder "
            f"({len(MIGRATIONS)}); upgrade Ponder to open it"
        )
    for number in range(current + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _split(MIGRATIONS[number - 1]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _split(script: str) -> list[str]:
    """Split a script into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf))
    return out
