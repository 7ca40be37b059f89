"""The ingest pipeline: files ──► loaders ──► chunker ──► embedder ──► one transaction per document.

- A file whose bytes are unchanged (same hash as when it was ingested) is not even parsed.
- A document whose text and metadata are unchanged is not rewritten.
- A chunk whose text was already embedded by this model is never embedded again.
- A changed document's chunks are replaced in one transaction; rows gone from a changed
  CSV/JSONL file are removed; with ``sync=True`` documents whose file is gone are removed.
- A bad file is reported in ``IngestReport.skipped`` with its reason and the rest goes on.
- Ctrl-C keeps every document committed so far; the rest can simply be ingested again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.config import load_settings
from ponder.errors import LoaderError
from ponder.types import Chunk, IngestReport, LoadedDocument

if TYPE_CHECKING:
    from ponder.store.collection import Collection


FLUSH_CHUNKS = 256  # chunks buffered across documents before one embedding call


class IngestProgress:
    """Callbacks an ingest reports to (the CLI draws a Rich progress bar from them)."""

    def files_total(self, n: int) -> None: ...

    def file_done(self, source: str) -> None: ...

    def chunks_found(self, n: int) -> None: ...

    def chunks_done(self, n: int) -> None: ...


def _hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def content_hash(doc: LoadedDocument, tag: str = "") -> str:
    """Hash of what decides a document's chunks: its text, metadata and the chunking settings."""
    payload = doc.text + "\x00" + json.dumps(doc.metadata, sort_keys=True, default=str)
    return _hash_bytes((tag + "\x00" + payload).encode("utf-8"))


@dataclass
class _Pending:
    doc_id: str
    doc: LoadedDocument
    file_hash: str | None
    chash: str
    chunks: list[Chunk]
    is_update: bool


@dataclass
class Ingester:
    """Buffers chunked documents and embeds them in large batches across documents."""

    collection: Collection
    report: IngestReport
    progress: IngestProgress = field(default_factory=IngestProgress)
    flush_chunks: int = field(default_factory=lambda: FLUSH_CHUNKS)
    chunk_tokens: int | None = None
    chunk_overlap: int | None = None
    _pending: list[_Pending] = field(default_factory=list)
    _buffered: int = 0

    def __post_init__(self) -> None:
        s = load_settings()
        if self.chunk_tokens is None:
            self.chunk_tokens = s.chunk_tokens
        if self.chunk_overlap is None:
            self.chunk_overlap = s.chunk_overlap
        # changing the chunking re-chunks documents (identical chunk texts are not re-embedded)
        self.tag = f"chunks={self.chunk_tokens}/{self.chunk_overlap}"

    def fingerprint(self, data: bytes) -> str:
        """A file's fingerprint: its bytes and the chunking settings."""
        return _hash_bytes(self.tag.encode() + b"\x00" + data)

    def submit(self, doc: LoadedDocument, file_hash: str | None) -> None:
        from ponder.ingest import chunk_document

        col = self.collection
        doc_id = doc.doc_id or doc.source
        chash = content_hash(doc, self.tag)
        old = col.catalog.document_hashes([doc_id]).get(doc_id)
        if old == chash:
            self.report.unchanged += 1
            if file_hash is not None:  # same text from different bytes: remember the new hash
                with col.catalog.write() as db:
                    db.execute(
                        "UPDATE documents SET file_hash = ? WHERE id = ?", (file_hash, doc_id)
                    )
            return
        assert self.chunk_tokens is not None and self.chunk_overlap is not None
        chunks = chunk_document(doc, col.embedder.tokenize, self.chunk_tokens, self.chunk_overlap)
        if not chunks:
            self.report.skipped.append((doc_id, "no text to index after parsing"))
            return
        self._pending.append(_Pending(doc_id, doc, file_hash, chash, chunks, old is not None))
        self._buffered += len(chunks)
        self.progress.chunks_found(len(chunks))
        if self._buffered >= self.flush_chunks:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        col = self.collection
        from ponder.store.collection import text_hash

        all_chunks = [c for p in self._pending for c in p.chunks]
        hashes = [text_hash(c.text) for c in all_chunks]
        cached = col.catalog.cached_vectors(hashes, col.model_id)
        todo: dict[str, str] = {}
        for h, c in zip(hashes, all_chunks, strict=True):
            if h not in cached and h not in todo:
                todo[h] = c.text
        reused = len(all_chunks) - len(todo)
        if reused:
            self.progress.chunks_done(reused)
        if todo:
            vecs = col.embedder.embed(list(todo.values()), progress=self.progress.chunks_done)
            cached.update(zip(todo.keys(), vecs, strict=True))
            self.report.chunks_embedded += len(todo)
        import numpy as np

        pos = 0
        for p in self._pending:
            n = len(p.chunks)
            vectors = np.vstack([cached[h] for h in hashes[pos : pos + n]])
            pos += n
            meta = dict(p.doc.metadata)
            col.write_chunks(
                p.doc_id,
                p.chunks,
                vectors,
                source=p.doc.source,
                file_hash=p.file_hash,
                content_hash=p.chash,
                metadata=meta,
            )
            self.report.chunks += n
            if p.is_update:
                self.report.updated += 1
            else:
                self.report.added += 1
        self._pending.clear()
        self._buffered = 0


def _finish(col: Collection, ing: Ingester, started: float) -> IngestReport:
    ing.flush()
    ing.report.seconds = time.perf_counter() - started
    return ing.report


def ingest_paths(
    col: Collection,
    paths: Sequence[str | Path],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    text_field: str | None = None,
    sync: bool = False,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest files and folders (recursively) into ``col``; see the module docstring."""
    from ponder.ingest import discover, load_path_report

    started = time.perf_counter()
    report = IngestReport()
    ing = Ingester(col, report, progress or IngestProgress())
    found = discover(paths, include=include, exclude=exclude)
    report.skipped.extend(found.skipped)
    ing.progress.files_total(len(found.files))
    try:
        for path in found.files:
            source = str(Path(path).resolve())
            try:
                data = Path(path).read_bytes()
            except OSError as e:
                report.skipped.append((source, f"cannot read: {e.strerror or e}"))
                ing.progress.file_done(source)
                continue
            fhash = ing.fingerprint(data)
            existing = col.catalog.documents_for_source(source)
            if existing and all(fh == fhash for fh, _ in existing.values()):
                report.unchanged += len(existing)
                ing.progress.file_done(source)
                continue
            try:
                docs, bad = load_path_report(Path(path), text_field=text_field)
            except LoaderError as e:
                report.skipped.append((e.source, e.reason))
                ing.progress.file_done(source)
                continue
            report.skipped.extend(bad)
            for doc in docs:
                ing.submit(doc, fhash)
            gone = set(existing) - {d.doc_id or d.source for d in docs}
            if gone:
                ing.flush()
                col.remove_documents(sorted(gone))
                report.removed += len(gone)
            ing.progress.file_done(source)
        ing.flush()
        if sync:
            _sync(col, report)
    finally:
        col.index_state.save()
    return _finish(col, ing, started)


def _sync(col: Collection, report: IngestReport) -> None:
    gone_sources = [
        s for s in col.catalog.sources() if not s.startswith("pydoc:") and not Path(s).exists()
    ]
    for s in gone_sources:
        ids = list(col.catalog.documents_for_source(s))
        col.remove_documents(ids)
        report.removed += len(ids)


def _module_fingerprint(name: str) -> str:
    """Changes when the module's source, the interpreter or the pydoc loader changes; needs no
    import."""
    from ponder.ingest.pydoc_source import __file__ as loader_file

    h = hashlib.sha256(sys.version.encode())
    h.update(Path(loader_file).read_bytes())
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    if origin and Path(origin).is_file():
        h.update(Path(origin).read_bytes())
    return h.hexdigest()[:32]


def ingest_pydoc(
    col: Collection,
    modules: Iterable[str] | None = None,
    *,
    progress: IngestProgress | None = None,
) -> IngestReport:
    """Ingest the standard library's own documentation (one document per module, source
    ``pydoc:MODULE``). ``modules=None`` takes every importable stdlib module."""
    from ponder.ingest import load_pydoc

    started = time.perf_counter()
    report = IngestReport()
    ing = Ingester(col, report, progress or IngestProgress())
    names = list(modules) if modules is not None else None
    if names is None:
        from ponder.ingest import stdlib_modules

        names = stdlib_modules()
    ing.progress.files_total(len(names))
    try:
        for name in names:
            fp = ing.fingerprint(_module_fingerprint(name).encode())
            existing = col.catalog.documents_for_source(f"pydoc:{name}")
            if existing and all(fh == fp for fh, _ in existing.values()):
                report.unchanged += len(existing)
                ing.progress.file_done(name)
                continue
            for item in load_pydoc([name]):
                if isinstance(item, LoaderError):
                    report.skipped.append((item.source, item.reason))
                else:
                    ing.submit(item, fp)
            ing.progress.file_done(name)
        ing.flush()
    finally:
        col.index_state.save()
    return _finish(col, ing, started)
