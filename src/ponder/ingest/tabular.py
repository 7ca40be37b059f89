"""Row loaders (``.csv``, ``.jsonl``): one document per row.

``text_field`` names the column (CSV) or key (JSONL) holding the text; without it a field named
``text`` is used, and a file without one is an error that lists the fields it has. The other
fields become metadata: CSV cells that are whole numbers are parsed as ``int``/``float``
(integers with leading zeros, like ``"007"``, stay strings) and empty cells are left out; JSONL
values are kept as they are. Each row's ``doc_id`` is ``"{path}#row={n}"``: ``n`` is the 1-based
data row for CSV (after the header) and the line number for JSONL.

A bad row (invalid JSON, too many cells, no text) is skipped and reported, never fatal:

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d, "reviews.jsonl")
...     _ = p.write_text('{"text": "Great tea.", "stars": 5}\\n{oops\\n', encoding="utf-8")
...     docs, skipped = load_jsonl_report(p)
>>> [(d.text, d.metadata["stars"], d.doc_id.endswith("#row=1")) for d in docs]
[('Great tea.', 5, True)]
>>> [reason for _, reason in skipped]  # doctest: +ELLIPSIS
['invalid JSON (...)']
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ponder.errors import LoaderError
from ponder.ingest.loader import Loader, LoadResult, Skipped
from ponder.ingest.textutil import (
    decode_text,
    normalize_newlines,
    paragraph_spans,
    parse_scalar,
    read_bytes,
    source_of,
)
from ponder.types import Block, LoadedDocument

_FIELD_LIMIT = 2**31 - 1  # csv's default (128 KiB per cell) is too small for long texts


def load_csv_report(
    path: Path, text_field: str | None = None
) -> tuple[list[LoadedDocument], Skipped]:
    """Load a CSV file: ``(documents, skipped rows as (row id, reason))``.

    Raises ``LoaderError`` for file-level problems (unreadable, empty, no text column).
    """
    source = source_of(path)
    text = decode_text(read_bytes(Path(path), source), source)
    delimiter = _delimiter(text.split("\n", 1)[0])
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise LoaderError(source, f"has no readable header row ({exc}); check the file") from None
    columns = _column_names(header)
    field = _pick_field(source, text_field, columns, "column")
    col = columns.index(field)
    base = {"file_type": "csv", "file_name": Path(source).name}
    docs: list[LoadedDocument] = []
    skipped: Skipped = []
    n = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            n += 1
            skipped.append((f"{source}#row={n}", f"cannot be parsed as CSV ({exc})"))
            continue
        n += 1
        row_id = f"{source}#row={n}"
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) > len(columns):
            skipped.append(
                (
                    row_id,
                    f"has {len(row)} cells but the header has {len(columns)}; quote cells that "
                    f"contain the delimiter {delimiter!r}",
                )
            )
            continue
        row = row + [""] * (len(columns) - len(row))
        metadata: dict[str, Any] = {
            name: parse_scalar(value)
            for i, (name, value) in enumerate(zip(columns, row, strict=True))
            if i != col and value.strip()
        }
        doc = _row_document(source, row_id, row[col], field, metadata, base, n, skipped)
        if doc is not None:
            docs.append(doc)
    if n == 0:
        raise LoaderError(source, "has a header but no data rows; nothing to ingest")
    return docs, skipped


def load_jsonl_report(
    path: Path, text_field: str | None = None
) -> tuple[list[LoadedDocument], Skipped]:
    """Load a JSON Lines file: ``(documents, skipped lines as (row id, reason))``.

    Raises ``LoaderError`` for file-level problems (unreadable, empty, no text field anywhere).
    """
    source = source_of(path)
    text = decode_text(read_bytes(Path(path), source), source)
    rows: list[tuple[int, dict[str, Any]]] = []
    skipped: Skipped = []
    seen: dict[str, None] = {}
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        row_id = f"{source}#row={n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append((row_id, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            skipped.append((row_id, f"is a JSON {type(obj).__name__}, not an object"))
            continue
        rows.append((n, obj))
        if len(seen) < 200:
            seen.update(dict.fromkeys(obj))
    if not rows:
        return [], skipped
    field = text_field or "text"
    if not any(field in obj for _, obj in rows):
        field = _pick_field(source, text_field, list(seen), "field")
    base = {"file_type": "jsonl", "file_name": Path(source).name}
    docs: list[LoadedDocument] = []
    for n, obj in rows:
        row_id = f"{source}#row={n}"
        value = obj.get(field)
        if isinstance(value, bool) or not isinstance(value, str | int | float | type(None)):
            skipped.append((row_id, f"field {field!r} is a {type(value).__name__}, not text"))
            continue
        metadata = {k: v for k, v in obj.items() if k != field}
        text_value = "" if value is None else str(value)
        doc = _row_document(source, row_id, text_value, field, metadata, base, n, skipped)
        if doc is not None:
            docs.append(doc)
    return docs, skipped


def _row_document(
    source: str,
    row_id: str,
    value: str,
    field: str,
    metadata: dict[str, Any],
    base: dict[str, Any],
    n: int,
    skipped: Skipped,
) -> LoadedDocument | None:
    text = normalize_newlines(value)
    blocks = [Block("text", a, b) for a, b in paragraph_spans(text)]
    if not blocks:
        skipped.append((row_id, f"has no text in {field!r}"))
        return None
    for key, val in base.items():
        metadata.setdefault(key, val)
    metadata.setdefault("row", n)
    return LoadedDocument(source=source, text=text, blocks=blocks, metadata=metadata, doc_id=row_id)


def _pick_field(source: str, text_field: str | None, fields: list[str], what: str) -> str:
    """Return the text field, or raise a ``LoaderError`` that lists the fields available."""
    wanted = text_field or "text"
    if wanted in fields:
        return wanted
    listing = ", ".join(repr(f) for f in fields[:30]) + (", ..." if len(fields) > 30 else "")
    if text_field:
        reason = f"has no {what} {text_field!r}; its {what}s are: {listing}"
    else:
        reason = (
            f"has no {what} named 'text'; its {what}s are: {listing}. Pass --text-field NAME "
            f"(text_field=NAME) to say which {what} holds the text"
        )
    raise LoaderError(source, reason)


def _delimiter(header_line: str) -> str:
    """The delimiter used by the header line: comma, tab, semicolon or pipe (comma by default).

    >>> _delimiter("id;text;year"), _delimiter("id,text"), _delimiter("text")
    (';', ',', ',')
    """
    for candidate in (",", "\t", ";", "|"):
        if candidate in header_line:
            return candidate
    return ","


def _column_names(header: list[str]) -> list[str]:
    """Stripped header names; blanks become ``column_N`` and duplicates get ``_2``, ``_3``...

    >>> _column_names([" id ", "", "id"])
    ['id', 'column_2', 'id_2']
    """
    names: list[str] = []
    for i, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{i}"
        candidate, k = name, 2
        while candidate in names:
            candidate, k = f"{name}_{k}", k + 1
        names.append(candidate)
    return names


class CsvLoader(Loader):
    """``.csv`` files, one document per row: :func:`load_csv_report` with ``text_field``."""

    extensions = (".csv",)

    def load(self, path: Path) -> LoadResult:
        return LoadResult(*load_csv_report(path, self.text_field))


class JsonlLoader(Loader):
    """``.jsonl`` files, one document per line: :func:`load_jsonl_report` with ``text_field``."""

    extensions = (".jsonl",)

    def load(self, path: Path) -> LoadResult:
        return LoadResult(*load_jsonl_report(path, self.text_field))
