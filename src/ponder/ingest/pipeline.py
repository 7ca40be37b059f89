"""The ingest pipeline: files ──► loaders ──► chunker ──► embedder ──► one transaction per document.

It drives a ``Collection`` through its public API only (hashes of stored documents, cached
vectors, ``write_chunks``, ``remove_documents``); ``Collection.ingest`` and
``Collection.ingest_pydoc`` are thin entry points to ``ingest_paths`` and ``ingest_pydoc``.

- A file whose bytes are unchanged (same hash as when it was ingested) is not even parsed.
- A document whose text and metadata are unchanged is not rewritten.
- A chunk whose text was already embedded by this model is never embedded again.
- A changed document's chunks are replaced in one transaction; rows gone from a changed
  CSV/JSONL file are removed; with ``sync=True`` documents whose file is gone are removed.
- A bad file is reported in ``IngestReport.skipped`` with its reason and the rest goes on.
- Ctrl-C keeps every document committed so far; the rest can simply be ingested again.

>>> import tempfile
>>> from pathlib import Path
>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.store.collection import Collection
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "tea.md").write_text("# Tea\\n\\nGreen tea steeps for two minutes.")
>>> col = Collection.create("tea", home=tempfile.mkdtemp(), embedder=HashEmbedder())
>>> r = ingest_paths(col, [folder])
>>> (r.added, r.chunks), ingest_paths(col, [folder]).unchanged
((1, 1), 1)
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

import numpy as np

from ponder.config import load_settings
from ponder.errors import LoaderError
from ponder.ingest import pydoc_source
from ponder.ingest.chunking import chunk_document
from ponder.ingest.discovery import discover
from ponder.ingest.pydoc_source import load_pydoc, stdlib_modules
from ponder.ingest.registry import load_path_report
from ponder.types import Chunk, IngestReport, LoadedDocument

if TYPE_CHECKING:
    from ponder.store.collection import Collection


# Chunks buffered across documents before one embedding call and one write transaction.
# As large as the MiniLM embedders' length-sorting window: smaller groups sort worse and pad
# more (256: +3 % padded tokens on the stdlib docs, 1024: +0.4 %).
FLUSH_CHUNKS = 1024


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
        col = self.collection
        doc_id = doc.doc_id or doc.source
        chash = content_hash(doc, self.tag)
        old = col.document_hashes([doc_id]).get(doc_id)
        if old == chash:
            self.report.unchanged += 1
            if file_hash is not None:  # same text from different bytes: remember the new hash
                col.set_file_hash(doc_id, file_hash)
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
        """Embed the buffered chunks not embedded before, then write the documents in one
        transaction."""
        if not self._pending:
            return
        col = self.collection
        embedder, model = col.embedder, col.model_id  # vectors and the model they are checked by
        texts = [c.text for p in self._pending for c in p.chunks]
        known = col.stored_vectors(texts, model=model)
        todo = [t for t in dict.fromkeys(texts) if t not in known]
        reused = len(texts) - len(todo)
        if reused:
            self.progress.chunks_done(reused)
        if todo:
            vecs = embedder.embed(todo, progress=self.progress.chunks_done)
            known.update(zip(todo, vecs, strict=True))
            self.report.chunks_embedded += len(todo)
        with col.batch():  # one transaction; each document is still all or nothing
            for p in self._pending:
                col.write_chunks(
                    p.doc_id,
                    p.chunks,
                    np.vstack([known[c.text] for c in p.chunks]),
                    source=p.doc.source,
                    file_hash=p.file_hash,
                    content_hash=p.chash,
                    metadata=dict(p.doc.metadata),
                    model=model,
                )
        for p in self._pending:
            self.report.chunks += len(p.chunks)
            if p.is_update:
                self.report.updated += 1
            else:
                self.report.added += 1
        self._pending.clear()
        self._buffered = 0


def _finish(ing: Ingester, started: float) -> IngestReport:
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
            existing = col.documents_for_source(source)
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
        col.save_index()
    return _finish(ing, started)


def _sync(col: Collection, report: IngestReport) -> None:
    gone_sources = [s for s in col.sources() if not s.startswith("pydoc:") and not Path(s).exists()]
    for s in gone_sources:
        ids = list(col.documents_for_source(s))
        col.remove_documents(ids)
        report.removed += len(ids)


def _module_fingerprint(name: str) -> str:
    """Changes when the module's source, the interpreter or the pydoc loader changes; needs no
    import."""
    h = hashlib.sha256(sys.version.encode())
    h.update(Path(pydoc_source.__file__).read_bytes())
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
    started = time.perf_counter()
    report = IngestReport()
    ing = Ingester(col, report, progress or IngestProgress())
    names = list(modules) if modules is not None else stdlib_modules()
    ing.progress.files_total(len(names))
    try:
        for name in names:
            fp = ing.fingerprint(_module_fingerprint(name).encode())
            existing = col.documents_for_source(f"pydoc:{name}")
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
        col.save_index()
    return _finish(ing, started)
