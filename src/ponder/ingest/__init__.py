"""Loading documents and cutting them into chunks.

::

    discover(paths)  ──►  load_path(file)  ──►  LoadedDocument(text, blocks)  ──►  chunk_document
    load_pydoc(modules) ─────────────────────────┘

>>> from ponder.embed.fake import HashEmbedder
>>> doc = next(load_pydoc(["heapq"]))
>>> chunks = chunk_document(doc, HashEmbedder().tokenize, chunk_tokens=200, overlap=32)
>>> chunks[0].heading_path, chunks[0].text.splitlines()[0]
(('module heapq',), 'module heapq')
"""

from __future__ import annotations

from ponder.ingest.chunking import chunk_document
from ponder.ingest.discovery import DiscoveryResult, discover
from ponder.ingest.loader import Loader, LoadResult
from ponder.ingest.pydoc_source import DEMO_MODULES, load_pydoc, render_module, stdlib_modules
from ponder.ingest.registry import (
    SUPPORTED_EXTENSIONS,
    load_path,
    load_path_report,
    loader_for,
    register_loader,
    unregister_loader,
)

__all__ = [
    "DEMO_MODULES",
    "SUPPORTED_EXTENSIONS",
    "DiscoveryResult",
    "LoadResult",
    "Loader",
    "chunk_document",
    "discover",
    "load_path",
    "load_path_report",
    "load_pydoc",
    "loader_for",
    "register_loader",
    "render_module",
    "stdlib_modules",
    "unregister_loader",
]
