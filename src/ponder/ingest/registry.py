"""Which loader reads which file: ``load_path`` and ``load_path_report``.

>>> sorted(SUPPORTED_EXTENSIONS)
['.csv', '.htm', '.html', '.jsonl', '.markdown', '.md', '.pdf', '.txt']
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d, "a.md")
...     _ = p.write_text("# Hello\\n\\nWorld.", encoding="utf-8")
...     [doc.metadata["title"] for doc in load_path(p)]
['Hello']
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ponder.errors import LoaderError
from ponder.ingest.html import load_html
from ponder.ingest.markdown import load_markdown
from ponder.ingest.pdf import load_pdf
from ponder.ingest.tabular import load_csv_report, load_jsonl_report
from ponder.ingest.text import load_text
from ponder.ingest.textutil import source_of
from ponder.types import LoadedDocument

Skipped = list[tuple[str, str]]

_SINGLE: dict[str, Callable[[Path], LoadedDocument]] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
}
_ROWS: dict[str, Callable[[Path, str | None], tuple[list[LoadedDocument], Skipped]]] = {
    ".csv": load_csv_report,
    ".jsonl": load_jsonl_report,
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_SINGLE) | frozenset(_ROWS)


def unsupported_reason(suffix: str) -> str:
    """The message for a file type no loader reads."""
    kind = f"file type {suffix!r}" if suffix else "file without an extension"
    return (
        f"unsupported {kind}; supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))} "
        "(convert it to one of them first)"
    )


def load_path_report(
    path: str | Path, text_field: str | None = None
) -> tuple[list[LoadedDocument], Skipped]:
    """Load one file: ``(documents, skipped)`` where ``skipped`` lists bad rows with reasons.

    A text, Markdown, HTML or PDF file gives one document; a CSV or JSONL file one per usable
    row (``text_field`` names the text column; it is ignored for other types). Problems with the
    file as a whole raise ``LoaderError``; bad rows are only reported.
    """
    path = Path(path)
    source = source_of(path)
    if path.is_dir():
        raise LoaderError(source, "is a folder, not a file; use discover() to list its files")
    suffix = path.suffix.lower()
    if suffix in _ROWS:
        return _ROWS[suffix](path, text_field)
    if suffix in _SINGLE:
        return [_SINGLE[suffix](path)], []
    raise LoaderError(source, unsupported_reason(suffix))


def load_path(path: str | Path, *, text_field: str | None = None) -> list[LoadedDocument]:
    """Load one file into documents; ``LoaderError`` when nothing usable is in it.

    Bad rows of a CSV/JSONL file are dropped silently here: use :func:`load_path_report` to
    see them.
    """
    docs, skipped = load_path_report(path, text_field)
    if not docs:
        source = source_of(path)
        if skipped:
            first_id, first_reason = skipped[0]
            row = first_id.rpartition("#")[2]
            raise LoaderError(
                source,
                f"no usable rows: all {len(skipped)} were skipped (first, {row}: {first_reason})",
            )
        raise LoaderError(source, "has no rows with text; nothing to ingest")
    return docs
