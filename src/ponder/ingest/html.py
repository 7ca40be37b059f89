"""HTML loader (``.html``, ``.htm``): the page's main text, without markup or page furniture.

Uses only the standard library's ``html.parser``. Scripts, styles, navigation, site headers and
footers, asides, forms and hidden elements are dropped; when the page has a ``<main>`` (or else
an ``<article>``) only that is kept. ``h1``-``h6`` become heading blocks; paragraphs, list
items, ``pre`` (whitespace kept), table rows (cells joined by `` | ``) and quotes become text
blocks. Entities are decoded and ``<title>`` goes into ``metadata["title"]``. Permalink anchors
(``<a class="headerlink">``, the pilcrow after Sphinx headings) are dropped.

API reference pages built by Sphinx (the Python library reference among them) describe each
class, function and method in a ``<dt class="sig" id="csv.DictReader">`` signature followed by
its description: the entry's qualified name (its ``id``) becomes a heading one level below the
enclosing section (nested entries, such as methods, one level further), then the signature is a
text block, so every chunk of an entry carries its name in its heading path.

>>> doc = parse_html('''<h2>Contents<a class="headerlink" href="#c">¶</a></h2>
... <dl class="py class"><dt class="sig sig-object py" id="csv.DictReader">class csv.DictReader(f)
... <a class="headerlink" href="#csv.DictReader">¶</a></dt><dd><p>Map rows to dicts.</p>
... </dd></dl>''', "csv.html")
>>> for b in doc.blocks:
...     print(b.kind, b.level, doc.text[b.start:b.end])
heading 2 Contents
heading 3 csv.DictReader
text 0 class csv.DictReader(f)
text 0 Map rows to dicts.

>>> doc = parse_html('''<html><head><title>Tea &amp; you</title><style>p{}</style></head>
... <body><nav><a href="/">Home</a></nav>
... <main><h1>Brewing</h1><p>Use water at 80&nbsp;&deg;C.</p><script>track()</script></main>
... <footer>© 2024</footer></body></html>''', "tea.html")
>>> [(b.kind, doc.text[b.start:b.end]) for b in doc.blocks]
[('heading', 'Brewing'), ('text', 'Use water at 80 °C.')]
>>> doc.metadata["title"]
'Tea & you'
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ponder.errors import LoaderError
from ponder.ingest.loader import Loader, LoadResult
from ponder.ingest.textutil import (
    DocumentBuilder,
    decode_text,
    normalize_newlines,
    read_bytes,
    source_of,
)
from ponder.types import LoadedDocument

# Elements whose whole content is dropped.
_SKIP = frozenset(
    {
        *("script", "style", "noscript", "template", "nav", "aside", "form", "svg", "iframe"),
        *("object", "canvas", "button", "select", "textarea", "dialog", "menu"),
    }
)
# Page furniture dropped only outside <main>, <article> and <section>.
_FURNITURE = frozenset({"header", "footer"})
_SKIP_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "menu"})
_VOID = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"),
        *("source", "track", "wbr"),
    }
)
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
# Tags that end the current run of text (start and end).
_BLOCK = frozenset(
    {
        *("p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote", "section"),
        *("article", "main", "table", "thead", "tbody", "tfoot", "tr", "caption", "figure"),
        *("figcaption", "address", "details", "summary", "center", "hr", "br", "body", "html"),
    }
)
_CELL = frozenset({"td", "th"})
_QUALNAME = re.compile(r"^[A-Za-z_][\w.]*$")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)


def load_html(path: Path) -> LoadedDocument:
    """Load an HTML file; raises ``LoaderError`` when it has no readable text."""
    source = source_of(path)
    data = read_bytes(Path(path), source)
    return parse_html(_decode_html(data, source), source)


def _decode_html(data: bytes, source: str) -> str:
    """UTF-8 first; else the charset the page declares; else the generic text fallback."""
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        m = _CHARSET.search(data[:4096])
        if m and b"\x00" not in data:
            try:
                return normalize_newlines(data.decode(m.group(1).decode("ascii")))
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong declaration: fall back to the generic rules
    return decode_text(data, source)


def parse_html(html: str, source: str) -> LoadedDocument:
    """Extract the readable text of ``html`` (see the module docstring)."""
    parser = _Extractor()
    parser.feed(html)
    parser.close()
    parser.finish()
    # Prefer <main>, then <article>, then everything that was not dropped.
    zone = "main" if parser.has_text["main"] else "article" if parser.has_text["article"] else "all"
    builder = DocumentBuilder()
    for kind, text, level, zones in parser.blocks:
        if zone != "all" and zone not in zones:
            continue
        if kind == "heading":
            builder.heading(text, level)
        else:
            builder.text(text)
    metadata: dict[str, Any] = {"file_type": "html", "file_name": Path(source).name}
    title = " ".join(parser.title.split())
    if title:
        metadata["title"] = title
    for key in ("description", "author"):
        if parser.meta.get(key):
            metadata[key] = parser.meta[key]
    if parser.lang:
        metadata["language"] = parser.lang
    if not builder.blocks:
        raise LoaderError(
            source, "has no readable text (only markup, scripts or navigation); nothing to ingest"
        )
    return builder.build(source, metadata)


class _Extractor(HTMLParser):
    """Collects ``(kind, text, level, zones)`` blocks in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, str, int, frozenset[str]]] = []
        self.has_text = {"main": False, "article": False}
        self.title = ""
        self.meta: dict[str, str] = {}
        self.lang = ""
        self._skip: list[str] = []  # open elements whose content is dropped
        self._open = {"main": 0, "article": 0, "section": 0}
        self._in_title = False
        self._in_head = False
        self._pre = 0
        self._heading = 0
        self._buf: list[str] = []
        self._row_cells = 0
        self._level = 0  # level of the last <h1>-<h6>
        self._dl: list[bool] = []  # open <dl>s: whether each holds an API signature
        self._sig: str | None = None  # qualified name of the API signature being read

    # -- tags -------------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "html" and a.get("lang"):
            self.lang = a["lang"]
        if tag == "meta" and a.get("name", "").lower() in ("description", "author"):
            self.meta[a["name"].lower()] = " ".join(a.get("content", "").split())
        if tag == "title" and not self._skip:
            self._in_title = True
            return
        if tag in ("head", "body"):
            self._in_head = tag == "head"
        if tag in _VOID:
            if tag == "br" and not self._skip:
                self._buf.append("\n")
            elif tag == "hr" and not self._skip:
                self._flush()
            return
        if self._skip or self._drops(tag, a):
            self._skip.append(tag)
            return
        if tag in self._open:
            self._flush()
            self._open[tag] += 1
        elif tag in _HEADINGS:
            self._flush()
            self._heading = self._level = _HEADINGS[tag]
        elif tag == "dt" and "sig" in a.get("class", "").split():
            self._flush()
            if self._dl:
                self._dl[-1] = True
            name = a.get("id", "")
            self._sig = name if _QUALNAME.match(name) else ""
        elif tag in _CELL:
            if self._row_cells:
                self._buf.append(" | ")
            self._row_cells += 1
        elif tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self._pre += 1
            elif tag == "dl":
                self._dl.append(False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            return
        if tag == "head":
            self._in_head = False
        if self._skip:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag in self._open:
            self._flush()
            self._open[tag] = max(0, self._open[tag] - 1)
        elif tag in _HEADINGS or tag == "tr":
            self._flush()
        elif tag in _BLOCK:
            self._flush()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag == "dl" and self._dl:
                self._dl.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip and not self._in_head:
            self._buf.append(data if self._pre else re.sub(r"\s+", " ", data))

    def _drops(self, tag: str, a: dict[str, str]) -> bool:
        if tag in _SKIP:
            return True
        if tag == "a" and "headerlink" in a.get("class", "").split():
            return True
        if tag in _FURNITURE and not any(self._open.values()):
            return True
        if "hidden" in a or a.get("aria-hidden", "").lower() == "true":
            return True
        return a.get("role", "").lower() in _SKIP_ROLES

    # -- text -------------------------------------------------------------------------------
    def _flush(self) -> None:
        text = "".join(self._buf)
        self._buf.clear()
        self._row_cells = 0
        if not self._pre:
            text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
        text = text.strip()
        if not text:
            self._heading = 0
            self._sig = None
            return
        zones = frozenset(k for k in ("main", "article") if self._open[k])
        for k in zones:
            self.has_text[k] = True
        if self._sig is not None:
            # an API signature: its qualified name as a heading (or, without a usable id, the
            # signature itself), nested below the section and any enclosing entries
            level = min(6, max(1, self._level) + sum(self._dl))
            name = self._sig or text
            self._sig = None
            self.blocks.append(("heading", name, level, zones))
            if name != text:
                self.blocks.append(("text", text, 0, zones))
        elif self._heading:
            self.blocks.append(("heading", text, self._heading, zones))
            self._heading = 0
        else:
            self.blocks.append(("text", text, 0, zones))

    def finish(self) -> None:
        self._flush()


class HtmlLoader(Loader):
    """``.html`` and ``.htm`` files: :func:`load_html`."""

    extensions = (".html", ".htm")

    def load(self, path: Path) -> LoadResult:
        return LoadResult([load_html(path)])
