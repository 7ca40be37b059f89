"""Writes to a collection, and what the ingest pipeline asks of it: the part of the
``Collection`` API that changes it (``add``, ``update``, ``delete``, ``write_chunks``,
``remove_documents``, ``batch``) and the document lookups an ingest decides by.

Every write is one SQLite transaction (or part of the ``batch()`` in progress) whose chunk
changes are mirrored into the in-memory vector index once it commits; vectors are refused if
the collection was migrated to another embedding model since they were made.

>>> import tempfile
>>> from ponder.store.collection import Collection
>>> c = Collection.create("w", home=tempfile.mkdtemp(), embedder=False, dim=2)
>>> c.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], metadatas=[{"t": 1}, {"t": 2}])
['a', 'b']
>>> c.update(["a"], [{"t": 3}]); c.delete(where={"t": 2}), [x.metadata for x in c.get()]
(1, [{'t': 3}])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.errors import EmbeddingMismatchError, InputError
from ponder.store.catalog import Catalog, ChunkRow, text_hash
from ponder.store.filters import parse_where
from ponder.store.index_state import IndexState
from ponder.types import Chunk

if TYPE_CHECKING:
    from ponder.embed.base import Embedder


@dataclass
class _Changes:
    """Chunk pks removed and added (with their vectors) by one transaction."""

    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)

    def record(
        self, removed: Sequence[int], added: Sequence[int] = (), vectors: Any = None
    ) -> None:
        self.removed += removed
        self.added += added
        if len(added):
            self.vectors.append(np.asarray(vectors, dtype=np.float32))


class CollectionWrites:
    """The writing half of ``Collection`` (a mixin: ``Collection`` is the class to use)."""

    name: str
    catalog: Catalog
    index_state: IndexState
    model_id: str
    dim: int
    _changes: _Changes | None

    if TYPE_CHECKING:  # provided by Collection

        @property
        def embedder(self) -> Embedder: ...

        def _follow_migration(self) -> None: ...

    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        self._follow_migration()
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[0] != n or v.shape[1] != self.dim:
            raise EmbeddingMismatchError(
                f"embeddings have shape {tuple(v.shape)}, expected ({n}, {self.dim}) for "
                f"collection {self.name!r} ({self.model_id}); nothing was written"
            )
        if not np.isfinite(v).all():
            raise EmbeddingMismatchError("embeddings contain NaN or infinity; nothing was written")
        return v

    def write_chunks(
        self,
        doc_id: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        source: str | None = None,
        file_hash: str | None = None,
        content_hash: str | None = None,
        metadata: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        """Replace document ``doc_id`` with ``chunks`` in one transaction (the ingest primitive).
        ``model``: the model that made ``vectors`` (default: this collection's); refused if the
        collection was migrated to another since."""
        model = model or self.model_id
        self.catalog.require_model(model)  # checked again inside the transaction
        vectors = self._check_vectors(vectors, len(chunks))
        rows = [ChunkRow(c, text_hash(c.text), vectors[i]) for i, c in enumerate(chunks)]
        chash = content_hash or text_hash("".join(c.text for c in chunks))
        with self._write(model) as changes:
            changes.record(
                *self.catalog.write_document(
                    doc_id=doc_id,
                    source=source,
                    file_hash=file_hash,
                    content_hash=chash,
                    metadata=metadata or {},
                    chunks=rows,
                    model=model,
                )
            )

    def remove_documents(self, doc_ids: Sequence[str]) -> int:
        with self._write() as changes:
            removed = self.catalog.delete_documents(doc_ids)
            changes.record(removed)
        return len(removed)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group writes (``add``, ``delete``, ``write_chunks``, ``remove_documents``) into one
        transaction: all are committed, or none (on any exception). Ingest writes each batch of
        embedded documents this way.

        >>> import tempfile
        >>> from ponder.store.collection import Collection
        >>> c = Collection.create("t", home=tempfile.mkdtemp(), embedder=False, dim=2)
        >>> with c.batch():
        ...     _ = c.add(ids=["a"], embeddings=[[1, 0]])
        ...     _ = c.add(ids=["b"], embeddings=[[0, 1]])
        >>> c.count(), c.catalog.version()
        (2, 2)
        """
        with self._write():
            yield

    @contextmanager
    def _write(self, model: str | None = None) -> Iterator[_Changes]:
        """One transaction (or a part of the ``batch()`` in progress); its chunk changes are
        mirrored into the in-memory index once it commits. ``model``: refuse vectors of that
        model if the collection was migrated to another."""
        if self._changes is not None:
            if model:
                self.catalog.require_model(model)
            yield self._changes
            return
        self.index_state.get()  # loaded before the write, so the write can be mirrored
        before = self.index_state.version
        changes = self._changes = _Changes()
        try:
            with self.catalog.write():
                if model:
                    self.catalog.require_model(model)
                yield changes
        finally:
            self._changes = None
        vectors = np.vstack(changes.vectors) if changes.vectors else np.zeros((0, self.dim))
        self.index_state.apply(before, changes.removed, changes.added, vectors)

    # ------------------------------------------------------------------ documents
    def document_hashes(self, doc_ids: Sequence[str]) -> dict[str, str]:
        """``{doc_id: content hash}`` of the stored documents among ``doc_ids``."""
        return self.catalog.document_hashes(doc_ids)

    def documents_for_source(self, source: str) -> dict[str, tuple[str | None, str]]:
        """``{doc_id: (file hash, content hash)}`` of the documents loaded from ``source``."""
        return self.catalog.documents_for_source(source)

    def sources(self) -> list[str]:
        """Every document source (file path or ``pydoc:MODULE``), sorted."""
        return self.catalog.sources()

    def set_file_hash(self, doc_id: str, file_hash: str) -> None:
        """Record that other file bytes gave document ``doc_id`` the same text."""
        self.catalog.set_file_hash(doc_id, file_hash)

    def stored_vectors(self, texts: Sequence[str], *, model: str | None = None) -> dict[str, Any]:
        """``{text: vector}`` for the texts some chunk already has a vector of (by ``model``,
        default this collection's): what an ingest need not embed again."""
        hashes = {t: text_hash(t) for t in texts}
        found = self.catalog.cached_vectors(list(hashes.values()), model or self.model_id)
        return {t: found[h] for t, h in hashes.items() if h in found}

    def vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """``{chunk id: stored vector}`` (unknown ids are left out), e.g. to score chunks
        found by another retriever."""
        return self.catalog.vectors_for_ids(ids)

    def save_index(self) -> None:
        """Write the vector index to disk if it changed (``close`` does it too)."""
        self.index_state.save()

    def add(
        self,
        ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        embeddings: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> list[str]:
        """Add records (each one chunk of its own document); existing ids are replaced.

        ``embeddings`` may be given precomputed, then ``texts`` may be omitted. All records are
        written in one transaction: on any error nothing is written. Returns the ids.
        """
        given = ids if ids is not None else texts if texts is not None else embeddings
        n = len(given) if given is not None else 0
        if n == 0:
            raise InputError("add() needs at least one record: give texts= or embeddings=")
        if texts is None and embeddings is None:
            raise InputError("add() needs texts= or embeddings=")
        if ids is None and texts is None:
            raise InputError("add(): embeddings without texts need ids=[...] (one per vector)")
        ids = list(ids) if ids is not None else [text_hash(t) for t in (texts or [])]
        for name, seq in (("texts", texts), ("metadatas", metadatas), ("embeddings", embeddings)):
            if seq is not None and len(seq) != n:
                raise InputError(f"add(): {len(seq)} {name} for {n} ids; give one per id")
        if len(set(ids)) != n:
            raise InputError("add(): ids must be unique within one call")
        texts = list(texts) if texts is not None else [""] * n
        metas = [dict(m or {}) for m in (metadatas or [None] * n)]
        if embeddings is None:
            if any(not t.strip() for t in texts):
                raise InputError("add(): empty text; every record needs text to embed")
            vectors = self.embedder.embed(texts)  # follows a migration first
        else:
            vectors = np.asarray(embeddings, dtype=np.float32)
        model = self.model_id  # the vectors' model, checked again inside the transaction
        vectors = self._check_vectors(vectors, n)
        with self._write(model) as changes:
            removed, added = self.catalog.write_records(ids, texts, metas, vectors, model)
            changes.record(removed, added, vectors)
        return ids

    def update(
        self,
        ids: Sequence[str],
        metadatas: Sequence[dict[str, Any]] | None = None,
        *,
        merge: bool = False,
    ) -> None:
        """Replace (or with ``merge=True`` merge into) the metadata of chunks by id."""
        if metadatas is None or len(metadatas) != len(ids):
            raise InputError("update(): give one metadata dict per id")
        pks = self.catalog.pks_for_ids(ids)
        missing = [i for i in ids if i not in pks]
        if missing:
            raise InputError(f"update(): unknown ids {missing[:5]}; nothing was changed")
        current = self.catalog.chunks_by_pk(list(pks.values())) if merge else {}
        with self.catalog.write():
            for cid, meta in zip(ids, metadatas, strict=True):
                pk = pks[cid]
                new = {**current[pk].metadata, **meta} if merge else dict(meta)
                self.catalog.update_chunk_metadata(pk, new)

    def delete(
        self, ids: Sequence[str] | None = None, where: dict[str, Any] | str | None = None
    ) -> int:
        """Delete chunks by id and/or filter (both given: the chunks matching both). Returns
        how many were deleted. ``delete()`` with neither is refused (use ``drop``)."""
        flt = parse_where(where)
        if ids is None and flt is None:
            raise InputError("delete() needs ids= or where=; to empty a collection, drop it")
        pks = set(self.catalog.pks_where(flt).tolist()) if flt else None
        if ids is not None:
            by_id = set(self.catalog.pks_for_ids(list(ids)).values())
            pks = by_id if pks is None else pks & by_id
        assert pks is not None
        if not pks:
            return 0
        with self._write() as changes:
            self.catalog.delete_chunks(sorted(pks))
            changes.record(sorted(pks))
        return len(pks)
