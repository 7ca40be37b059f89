"""Helpers shared by the loaders: decoding bytes, finding paragraphs, building documents.

>>> b = DocumentBuilder()
>>> b.heading("Intro", level=1)
>>> b.paragraphs("First paragraph.\\n\\nSecond one.")
>>> doc = b.build("notes.md", {"file_type": "markdown"})
>>> [(blk.kind, doc.text[blk.start:blk.end]) for blk in doc.blocks]
[('heading', 'Intro'), ('text', 'First paragraph.'), ('text', 'Second one.')]
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any

from ponder.errors import LoaderError
from ponder.types import Block, BlockKind, LoadedDocument, Metadata

_BLANK_LINES = re.compile(r"\n[ \t\f\v]*\n\s*")
_INT = re.compile(r"[+-]?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
# Control characters that never occur in text files (tab, newline, CR, FF, ESC are allowed).
_CONTROL = frozenset({*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)})
_PRINTABLE_ASCII = frozenset(set(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0C, 0x0D})


def source_of(path: str | Path) -> str:
    """The absolute, resolved path string used as ``LoadedDocument.source``."""
    return str(Path(path).expanduser().resolve())


def read_bytes(path: Path, source: str) -> bytes:
    """Read a file, turning OS errors into a ``LoaderError`` that says what to do."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LoaderError(source, "no such file; check the path") from None
    except IsADirectoryError:
        raise LoaderError(source, "is a folder, not a file; pass the folder to ingest it") from None
    except PermissionError:
        raise LoaderError(source, "permission denied; make the file readable") from None
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or exc}); check the file"
        raise LoaderError(source, reason) from None


def normalize_newlines(text: str) -> str:
    r"""Turn ``\r\n`` and lone ``\r`` into ``\n``.

    >>> normalize_newlines("a\r\nb\rc")
    'a\nb\nc'
    """
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def decode_text(data: bytes, source: str) -> str:
    r"""Decode the bytes of a text file, or raise ``LoaderError`` for empty or binary data.

    UTF-8 first (a BOM is dropped), UTF-16 when a BOM says so, then cp1252 (or latin-1) but only
    when the bytes are clearly text. Newlines are normalised to ``\n``.

    >>> decode_text("café".encode("cp1252"), "x.txt")
    'café'
    >>> decode_text(b"\x00\x01\x02binary", "x.bin")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.LoaderError: x.bin: looks like a binary file (it contains NUL bytes), ...
    """
    if not data.strip():
        raise LoaderError(source, "the file is empty (or only whitespace); nothing to ingest")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise LoaderError(
                source, "has a UTF-16 byte-order mark but is not valid UTF-16; re-save it as UTF-8"
            ) from None
        return _check_text(normalize_newlines(text), source)
    if b"\x00" in data:
        raise LoaderError(
            source,
            "looks like a binary file (it contains NUL bytes), not text; convert it to a "
            "supported format (.txt, .md, .html, .pdf, .csv, .jsonl) first",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if not _looks_like_text(data):
            raise LoaderError(
                source,
                "looks like a binary file (mostly non-text bytes and not valid UTF-8); convert "
                "it to a supported text format first",
            ) from None
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return _check_text(normalize_newlines(text), source)


def _looks_like_text(data: bytes) -> bool:
    """True when a sample of ``data`` is mostly printable ASCII with almost no control bytes."""
    sample = data[:65536]
    control = sum(1 for b in sample if b in _CONTROL)
    printable = sum(1 for b in sample if b in _PRINTABLE_ASCII)
    return control <= len(sample) * 0.01 and printable >= len(sample) * 0.75


def _check_text(text: str, source: str) -> str:
    if not text.strip():
        raise LoaderError(source, "the file is empty (or only whitespace); nothing to ingest")
    sample = text[:65536]
    control = sum(1 for ch in sample if ord(ch) in _CONTROL)
    if control > len(sample) * 0.05:
        raise LoaderError(
            source,
            "looks like a binary file (many control characters), not text; convert it to a "
            "supported text format first",
        )
    return text


def paragraph_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    r"""Spans of the paragraphs (runs of text between blank lines) in ``text[start:end]``.

    Spans are absolute offsets into ``text``, with surrounding whitespace excluded.

    >>> t = "  One.\nStill one.\n\n\nTwo.  \n"
    >>> [t[a:b] for a, b in paragraph_spans(t)]
    ['One.\nStill one.', 'Two.']
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _BLANK_LINES.finditer(text, start, end):
        _add_stripped(text, pos, m.start(), spans)
        pos = m.end()
    _add_stripped(text, pos, end, spans)
    return spans


def _add_stripped(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    a, b = strip_span(text, a, b)
    if a < b:
        out.append((a, b))


def strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    """Shrink ``[a, b)`` so that it neither starts nor ends with whitespace.

    >>> strip_span("  hi  ", 0, 6)
    (2, 4)
    """
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def parse_scalar(value: str) -> Any:
    """Parse a whole-value integer or float; anything else stays a string.

    Integers with leading zeros (``"007"``, zip codes, ids) stay strings.

    >>> parse_scalar("42"), parse_scalar("-1.5e3"), parse_scalar("007"), parse_scalar("12 apples")
    (42, -1500.0, '007', '12 apples')
    """
    v = value.strip()
    if _INT.fullmatch(v):
        return int(v)
    if _FLOAT.fullmatch(v) and not re.fullmatch(r"[+-]?0\d+", v):
        return float(v)
    return value


class DocumentBuilder:
    """Assembles a document's plain text block by block, recording each block's span.

    Blocks are stripped and separated by a blank line, so every span is exact.
    """

    SEPARATOR = "\n\n"

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.blocks: list[Block] = []

    def __len__(self) -> int:
        return len(self.blocks)

    def _add(self, kind: BlockKind, text: str, level: int, page: int | None) -> None:
        text = text.strip()
        if not text:
            return
        if self._parts:
            self._parts.append(self.SEPARATOR)
            self._length += len(self.SEPARATOR)
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        self.blocks.append(Block(kind, start, self._length, level, page))

    def heading(self, text: str, level: int, page: int | None = None) -> None:
        """Add a heading (whitespace inside it collapsed to single spaces)."""
        self._add("heading", " ".join(text.split()), max(1, level), page)

    def text(self, text: str, page: int | None = None) -> None:
        """Add one text block, kept whole (even if it contains blank lines)."""
        self._add("text", text, 0, page)

    def paragraphs(self, text: str, page: int | None = None) -> None:
        """Add ``text`` split into paragraphs at blank lines."""
        for a, b in paragraph_spans(text):
            self._add("text", text[a:b], 0, page)

    def build(self, source: str, metadata: Metadata, doc_id: str | None = None) -> LoadedDocument:
        return LoadedDocument(
            source=source,
            text="".join(self._parts),
            blocks=list(self.blocks),
            metadata=metadata,
            doc_id=doc_id,
        )
