"""Plain-text loader (``.txt``): the file's text, with paragraphs split on blank lines.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d, "note.txt")
...     _ = p.write_text("Para one.\\n\\nPara two.\\n", encoding="utf-8")
...     doc = load_text(p)
>>> [doc.text[b.start:b.end] for b in doc.blocks]
['Para one.', 'Para two.']
>>> doc.metadata["file_type"]
'text'
"""

from __future__ import annotations

from pathlib import Path

from ponder.ingest.loader import Loader, LoadResult
from ponder.ingest.textutil import decode_text, paragraph_spans, read_bytes, source_of
from ponder.types import Block, LoadedDocument


def load_text(path: Path) -> LoadedDocument:
    """Load a plain-text file; raises ``LoaderError`` for binary, empty or unreadable files."""
    source = source_of(path)
    text = decode_text(read_bytes(Path(path), source), source)
    blocks = [Block("text", a, b) for a, b in paragraph_spans(text)]
    return LoadedDocument(
        source=source,
        text=text,
        blocks=blocks,
        metadata={"file_type": "text", "file_name": Path(source).name},
    )


class TextLoader(Loader):
    """``.txt`` files: :func:`load_text`."""

    extensions = (".txt",)

    def load(self, path: Path) -> LoadResult:
        return LoadResult([load_text(path)])
