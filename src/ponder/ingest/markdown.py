"""Markdown loader (``.md``, ``.markdown``): headings with levels, paragraphs, code kept whole.

Understood: ATX (``# Title``) and setext (``Title`` over ``===`` / ``---``) headings, fenced code
blocks (never split, even across blank lines), thematic breaks, HTML comments (dropped), and a
front-matter block between ``---`` lines whose simple ``key: value`` lines become metadata.
Links and images keep only their visible text, so URLs do not crowd the text that is embedded.
Everything else (lists, tables, emphasis) is kept as written.

>>> doc = parse_markdown('''---
... title: Guide
... tags: [a, b]
... ---
... # Install
...
... Run `pip install ponder`, see [the docs](https://example.org).
...
... Usage
... -----
... ```
... ponder ask "hi"
...
... ponder ingest .
... ```
... ''', "guide.md")
>>> [(b.kind, b.level, doc.text[b.start:b.end].splitlines()[0]) for b in doc.blocks]
[('heading', 1, 'Install'), ('text', 0, 'Run `pip install ponder`, see the docs.'), \
('heading', 2, 'Usage'), ('text', 0, '```')]
>>> doc.metadata["title"], doc.metadata["tags"]
('Guide', ['a', 'b'])
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ponder.errors import LoaderError
from ponder.ingest.loader import Loader, LoadResult
from ponder.ingest.textutil import DocumentBuilder, decode_text, parse_scalar, read_bytes, source_of
from ponder.types import LoadedDocument

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_NOT_SETEXT_TEXT = re.compile(r"^ {0,3}(?:[-*+>|]|\d+[.)])(?:[ \t]|$)")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_FRONT_KEY = re.compile(r"^([A-Za-z_][\w\- ]*?)\s*:\s*(.*)$")


def load_markdown(path: Path) -> LoadedDocument:
    """Load a Markdown file; raises ``LoaderError`` for binary, empty or unreadable files."""
    source = source_of(path)
    text = decode_text(read_bytes(Path(path), source), source)
    return parse_markdown(text, source)


def parse_markdown(text: str, source: str) -> LoadedDocument:
    """Parse Markdown ``text`` into a document (see the module docstring)."""
    lines = text.split("\n")
    metadata: dict[str, Any] = {"file_type": "markdown", "file_name": Path(source).name}
    body_start = _front_matter(lines, metadata)
    builder = DocumentBuilder()
    para: list[str] = []
    first_h1: str | None = None

    def flush() -> None:
        if para:
            builder.text(_clean_inline("\n".join(line.rstrip() for line in para)))
            para.clear()

    i = body_start
    n = len(lines)
    while i < n:
        line = lines[i]
        fence = _FENCE_OPEN.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            flush()
            marker = fence.group(1)
            closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
            j = i + 1
            while j < n and not closing.match(lines[j]):
                j += 1
            builder.text("\n".join(lines[i : min(j + 1, n)]))
            i = j + 1
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            title = _clean_inline(atx.group(2) or "")
            if title.strip():
                level = len(atx.group(1))
                builder.heading(title, level)
                if level == 1 and first_h1 is None:
                    first_h1 = " ".join(title.split())
            i += 1
            continue
        setext = _SETEXT.match(line)
        if setext and para and not _NOT_SETEXT_TEXT.match(para[0]):
            level = 1 if setext.group(1)[0] == "=" else 2
            title = _clean_inline(" ".join(p.strip() for p in para))
            para.clear()
            builder.heading(title, level)
            if level == 1 and first_h1 is None:
                first_h1 = " ".join(title.split())
            i += 1
            continue
        if not line.strip() or _THEMATIC.match(line):
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    if not builder.blocks:
        raise LoaderError(source, "has no text outside its front matter; nothing to ingest")
    if "title" not in metadata and first_h1:
        metadata["title"] = first_h1
    return builder.build(source, metadata)


def _front_matter(lines: list[str], metadata: dict[str, Any]) -> int:
    """Parse a leading ``---`` ... ``---`` block into ``metadata``; return the body's first line."""
    if not lines or lines[0].strip() != "---":
        return 0
    for end in range(1, min(len(lines), 200)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return 0  # no closing line: not front matter, just a thematic break
    for line in lines[1:end]:
        m = _FRONT_KEY.match(line)
        if m and not line.startswith((" ", "\t")):
            value = _front_value(m.group(2))
            if value != "":
                metadata[m.group(1).strip()] = value
    return end + 1


def _front_value(raw: str) -> Any:
    """A front-matter value: quoted string, ``[a, b]`` list, number, boolean or plain string.

    >>> _front_value('"Hello"'), _front_value("[x, 'y']"), _front_value("3"), _front_value("true")
    ('Hello', ['x', 'y'], 3, True)
    """
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    if value.startswith("[") and value.endswith("]"):
        items = [v.strip().strip("\"'") for v in value[1:-1].split(",")]
        return [v for v in items if v]
    if value.lower() in ("true", "false", "yes", "no"):
        return value.lower() in ("true", "yes")
    return parse_scalar(value)


def _clean_inline(text: str) -> str:
    """Drop HTML comments and keep only the visible text of links and images (not in code)."""
    if "[" not in text and "<!--" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_clean_prose(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_clean_prose(text[pos:]))
    return "".join(out)


def _clean_prose(text: str) -> str:
    text = _COMMENT.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    return _LINK.sub(r"\1", text)


class MarkdownLoader(Loader):
    """``.md`` and ``.markdown`` files: :func:`load_markdown`."""

    extensions = (".md", ".markdown")

    def load(self, path: Path) -> LoadResult:
        return LoadResult([load_markdown(path)])
