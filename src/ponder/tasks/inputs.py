"""Task inputs: the checks every text and label set passes, and batch input files (one task
input per line or row, not documents).

- ``check_text`` and ``check_labels`` refuse what no task can process, naming the fix.

- ``.txt``: one input per non-blank line (``whole=True``: the whole file is one input, as
  ``ponder summarize`` reads a text file).
- ``.jsonl`` and ``.csv``/``.tsv``: one input per row, the text in ``text_field`` (default
  ``text``), read with the conventions of ``ponder.ingest``'s row loaders: a file without that
  field is an error listing the fields it has; a bad row (invalid JSON, no text) is reported
  and skipped. Other fields (an ``id`` column, say) are kept in ``InputRow.fields``.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d, "tweets.jsonl")
...     _ = p.write_text('{"id": 7, "text": "great day"}\\n{"id": 8, "text": ""}\\n')
...     rows, skipped = read_inputs(p)
>>> [(r.row, r.text, r.fields) for r in rows]
[(1, 'great day', {'id': 7})]
>>> skipped  # doctest: +ELLIPSIS
[('...tweets.jsonl#row=2', "has no text in 'text'")]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, InputError, LoaderError
from ponder.ingest.tabular import load_csv_report, load_jsonl_report
from ponder.ingest.textutil import decode_text, read_bytes

SUFFIXES = (".txt", ".text", ".md", ".jsonl", ".csv", ".tsv")
Skipped = list[tuple[str, str]]
_DROP = ("file_type", "file_name", "row")


@dataclass
class InputRow:
    """One task input: its 1-based row (line) number, text and other fields."""

    row: int
    text: str
    fields: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def ref(self) -> str:
        return f"{self.source}#row={self.row}"


def read_inputs(
    path: str | Path, text_field: str | None = None, *, whole: bool = False
) -> tuple[list[InputRow], Skipped]:
    """``(rows, skipped)`` from a batch input file; ``skipped`` holds ``(row ref, reason)``.

    Raises ``LoaderError`` for a missing or unreadable file, an unknown suffix, or a CSV/JSONL
    file without the text field.
    """
    p = Path(path)
    if not p.is_file():
        raise LoaderError(str(p), "not found: check the path given to --input")
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise LoaderError(
            str(p), f"has suffix {suffix!r}: use .txt (one input per line), .jsonl or .csv"
        )
    if suffix in (".txt", ".text", ".md"):
        if text_field:
            raise LoaderError(str(p), "--text-field is for .jsonl and .csv files, not text files")
        return _read_text(p, whole)
    loader = load_jsonl_report if suffix == ".jsonl" else load_csv_report
    docs, skipped = loader(p, text_field)
    rows: list[InputRow] = []
    for d in docs:
        fields = {k: v for k, v in d.metadata.items() if k not in _DROP}
        n = int(d.metadata.get("row", len(rows) + 1))
        rows.append(InputRow(n, d.text, fields, str(p)))
    if not rows and not skipped:
        raise LoaderError(str(p), "has no rows: nothing to process")
    return rows, skipped


def _read_text(p: Path, whole: bool) -> tuple[list[InputRow], Skipped]:
    text = decode_text(read_bytes(p, str(p)), str(p))
    if whole:
        if not text.strip():
            raise LoaderError(str(p), "is empty: nothing to process")
        return [InputRow(1, text, {}, str(p))], []
    rows = [
        InputRow(n, line.strip(), {}, str(p))
        for n, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]
    if not rows:
        raise LoaderError(str(p), "has no non-blank lines: nothing to process")
    return rows, []


def check_text(text: object, what: str = "text") -> str:
    """Return ``text`` if it is a non-blank string, else raise ``InputError`` saying so.

    >>> check_text("  ")
    Traceback (most recent call last):
    ...
    ponder.errors.InputError: the text is empty: give some text to process
    """
    if not isinstance(text, str):
        raise InputError(
            f"the {what} is a {type(text).__name__}, not a string: pass text (str) or a list of "
            "strings"
        )
    if not text.strip():
        raise InputError(f"the {what} is empty: give some text to process")
    return text


def check_texts(inputs: object, task: str) -> list[str]:
    """A string or a list of strings, every one checked before any work: an empty or non-string
    item fails fast with its position.

    >>> check_texts("hi", "sentiment")
    ['hi']
    >>> check_texts(["ok", " "], "sentiment")
    Traceback (most recent call last):
    ...
    ponder.errors.InputError: input 1: the text is empty: give some text to process
    """
    if isinstance(inputs, str):
        return [check_text(inputs)]
    if not isinstance(inputs, Sequence):
        raise InputError(
            f"{task} takes a string or a list of strings, not {type(inputs).__name__}"
        )
    for i, text in enumerate(inputs):
        try:
            check_text(text)
        except InputError as e:
            raise InputError(f"input {i}: {e}") from None
    return list(inputs)


def check_labels(
    labels: Sequence[str] | str, *, minimum: int = 2, what: str = "labels"
) -> tuple[str, ...]:
    """Clean a label set: a list or a comma-separated string; blanks and duplicates refused.

    >>> check_labels("positive, negative,neutral")
    ('positive', 'negative', 'neutral')
    >>> check_labels(["spam"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: a label set of one ('spam') leaves nothing to choose between: ...
    """
    if isinstance(labels, str):
        labels = labels.split(",")
    cleaned = [" ".join(str(lab).split()) for lab in labels]
    if any(not lab for lab in cleaned):
        raise ConfigError(f"{what} {list(labels)!r} contain an empty label: remove it")
    seen: set[str] = set()
    for lab in cleaned:
        if lab.lower() in seen:
            raise ConfigError(f"label {lab!r} is given twice in {cleaned}: give each label once")
        seen.add(lab.lower())
    if not cleaned:
        raise ConfigError(f"no {what} given: pass at least {minimum}, e.g. --labels a,b")
    if len(cleaned) < minimum:
        raise ConfigError(
            f"a label set of one ({cleaned[0]!r}) leaves nothing to choose between: give at "
            f"least {minimum} labels, e.g. --labels {cleaned[0]},other"
        )
    return tuple(cleaned)


__all__ = ["SUFFIXES", "InputRow", "check_labels", "check_text", "check_texts", "read_inputs"]
