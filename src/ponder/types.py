"""Typed records passed between Ponder's stages.

loader ──► LoadedDocument(blocks) ──► chunker ──► Chunk ──► store ──► Hit
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Metadata = dict[str, Any]
BlockKind = Literal["heading", "text"]


@dataclass(frozen=True)
class Block:
    """A structural piece of a loaded document.

    ``start``/``end`` are character offsets into ``LoadedDocument.text``; ``level`` is the
    heading level (1 = top) for headings and 0 for text; ``page`` is 1-based where known.
    """

    kind: BlockKind
    start: int
    end: int
    level: int = 0
    page: int | None = None


@dataclass
class LoadedDocument:
    """What a loader returns: the document's plain text plus its structure.

    >>> d = LoadedDocument(source="a.txt", text="Hi.", blocks=[Block("text", 0, 3)])
    >>> d.text[d.blocks[0].start:d.blocks[0].end]
    'Hi.'
    """

    source: str
    text: str
    blocks: list[Block]
    metadata: Metadata = field(default_factory=dict)
    doc_id: str | None = None  # defaults to the source


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that is embedded and searched on its own."""

    id: str
    doc_id: str
    text: str
    source: str | None = None
    start: int = 0
    end: int = 0
    page: int | None = None
    heading_path: tuple[str, ...] = ()
    metadata: Metadata = field(default_factory=dict)
    ordinal: int = 0

    @property
    def location(self) -> str:
        """A short human-readable location: page, heading path and character span."""
        parts = []
        if self.page is not None:
            parts.append(f"p.{self.page}")
        if self.heading_path:
            parts.append(" > ".join(self.heading_path))
        parts.append(f"chars {self.start}-{self.end}")
        return ", ".join(parts)


FoundBy = Literal["dense", "bm25", "hybrid", "get"]


@dataclass(frozen=True)
class Hit:
    """One search result: the chunk, its score (higher is better), rank (1-based) and how found.

    For the distance metrics (``l2``, ``l1``) ``score`` is the negated distance and ``distance``
    the distance itself; for ``cosine`` and ``dot`` ``distance`` is ``None``.
    """

    chunk: Chunk
    score: float
    rank: int
    found_by: FoundBy = "dense"
    distance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "id": c.id,
            "score": self.score,
            "rank": self.rank,
            "text": c.text,
            "source": c.source,
            "doc_id": c.doc_id,
            "page": c.page,
            "heading_path": list(c.heading_path),
            "start": c.start,
            "end": c.end,
            "metadata": c.metadata,
            "found_by": self.found_by,
        }


@dataclass
class IngestReport:
    """The outcome of an ingest: counts and the files skipped with their reasons."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0
