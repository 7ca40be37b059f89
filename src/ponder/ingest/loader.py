"""The extension point for file formats: subclass ``Loader`` and implement ``load(path)``.

A loader reads one file into documents. It names the extensions it reads in ``extensions``;
``ponder.ingest.register_loader`` makes ``ingest``, ``discover`` and the server use it. The
options of an ingest run reach every loader through its constructor (``text_field``: the text
column of tabular files; loaders without columns ignore it).

>>> from pathlib import Path
>>> from ponder.types import Block, LoadedDocument
>>> class Shout(Loader):
...     extensions = (".shout",)
...     def load(self, path: Path) -> LoadResult:
...         text = path.read_text(encoding="utf-8").upper()
...         return LoadResult([LoadedDocument(str(path), text, [Block("text", 0, len(text))])])
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d, "a.shout")
...     _ = p.write_text("hello", encoding="utf-8")
...     Shout().load(p).documents[0].text
'HELLO'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ponder.types import LoadedDocument

#: rows left out of a multi-document file, as ``(row id, reason)``
Skipped = list[tuple[str, str]]


@dataclass
class LoadResult:
    """What a loader read: the documents, and the rows it skipped with the reason for each."""

    documents: list[LoadedDocument]
    skipped: Skipped = field(default_factory=list)


class Loader(ABC):
    """Reads one file format.

    ``extensions``: the lower-case suffixes it reads (``(".md", ".markdown")``). ``load``
    raises ``LoaderError`` when the file as a whole is unusable (unreadable, empty, not that
    format); a row it cannot use goes into ``LoadResult.skipped`` instead.
    """

    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, text_field: str | None = None) -> None:
        self.text_field = text_field

    @abstractmethod
    def load(self, path: Path) -> LoadResult:
        """Read ``path`` into documents."""


__all__ = ["LoadResult", "Loader", "Skipped"]
