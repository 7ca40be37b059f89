"""Which loader reads which file: the loader registry, ``load_path`` and ``load_path_report``.

Every file type goes through the same registry, built-in or yours: ``register_loader`` adds a
``Loader`` subclass under each of its ``extensions``; ``ingest``, ``discover`` and the server
then read those files. ``SUPPORTED_EXTENSIONS`` is a live view of the registry.

>>> sorted(SUPPORTED_EXTENSIONS)
['.csv', '.htm', '.html', '.jsonl', '.markdown', '.md', '.pdf', '.txt']
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     p = pathlib.Path(d, "a.md")
...     _ = p.write_text("# Hello\\n\\nWorld.", encoding="utf-8")
...     [doc.metadata["title"] for doc in load_path(p)]
['Hello']
>>> type(loader_for(".markdown")).__name__
'MarkdownLoader'
>>> class Notes(Loader):
...     extensions = (".md",)
...     def load(self, path): return LoadResult([])
>>> register_loader(Notes)
Traceback (most recent call last):
...
ponder.errors.ConfigError: extension '.md' is already read by MarkdownLoader; pass replace=True ...
"""

from __future__ import annotations

from collections.abc import KeysView
from pathlib import Path

from ponder.errors import ConfigError, LoaderError
from ponder.ingest.html import HtmlLoader
from ponder.ingest.loader import Loader, LoadResult, Skipped
from ponder.ingest.markdown import MarkdownLoader
from ponder.ingest.pdf import PdfLoader
from ponder.ingest.tabular import CsvLoader, JsonlLoader
from ponder.ingest.text import TextLoader
from ponder.ingest.textutil import source_of
from ponder.types import LoadedDocument

_LOADERS: dict[str, type[Loader]] = {}
#: every extension some loader reads (a live view: it grows with ``register_loader``)
SUPPORTED_EXTENSIONS: KeysView[str] = _LOADERS.keys()


def register_loader(loader: type[Loader], *, replace: bool = False) -> type[Loader]:
    """Read ``loader.extensions`` with ``loader`` from now on; returns ``loader``, so it also
    works as a class decorator. An extension another loader reads needs ``replace=True``.

    >>> from ponder.ingest.loader import LoadResult
    >>> @register_loader
    ... class Nothing(Loader):
    ...     extensions = (".nothing",)
    ...     def load(self, path): return LoadResult([])
    >>> ".nothing" in SUPPORTED_EXTENSIONS
    True
    >>> unregister_loader(".nothing") is Nothing, ".nothing" in SUPPORTED_EXTENSIONS
    (True, False)
    """
    if not (isinstance(loader, type) and issubclass(loader, Loader)):
        raise ConfigError(
            f"{loader!r} is not a Loader subclass: subclass ponder.ingest.Loader and implement "
            "load(path)"
        )
    if not loader.extensions:
        raise ConfigError(f"{loader.__name__} has no extensions: set extensions = ('.ext',)")
    for ext in loader.extensions:
        if not (isinstance(ext, str) and ext.startswith(".") and len(ext) > 1):
            raise ConfigError(
                f"{loader.__name__}: extension {ext!r} must start with a dot, like '.rst'"
            )
        owner = _LOADERS.get(ext.lower())
        if owner is not None and owner is not loader and not replace:
            raise ConfigError(
                f"extension {ext.lower()!r} is already read by {owner.__name__}; pass "
                f"replace=True to read it with {loader.__name__} instead"
            )
    for ext in loader.extensions:
        _LOADERS[ext.lower()] = loader
    return loader


def unregister_loader(extension: str) -> type[Loader]:
    """Stop reading ``extension``; returns the loader that read it."""
    try:
        return _LOADERS.pop(extension.lower())
    except KeyError:
        raise ConfigError(
            f"no loader reads {extension!r}; registered: {', '.join(sorted(_LOADERS))}"
        ) from None


def loader_for(suffix: str, *, text_field: str | None = None) -> Loader:
    """A loader for files ending in ``suffix`` (``".md"``), built with the ingest options.

    Raises ``ConfigError`` for a suffix no loader reads.
    """
    cls = _LOADERS.get(suffix.lower())
    if cls is None:
        raise ConfigError(unsupported_reason(suffix.lower()))
    return cls(text_field=text_field)


def unsupported_reason(suffix: str) -> str:
    """The message for a file type no loader reads."""
    kind = f"file type {suffix!r}" if suffix else "file without an extension"
    return (
        f"unsupported {kind}; supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))} "
        "(convert it to one of them first, or register a loader for it with "
        "ponder.ingest.register_loader)"
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
    cls = _LOADERS.get(suffix)
    if cls is None:
        raise LoaderError(source, unsupported_reason(suffix))
    result = cls(text_field=text_field).load(path)
    if not isinstance(result, LoadResult):
        raise LoaderError(
            source,
            f"{cls.__name__}.load returned {type(result).__name__}, not a LoadResult: return "
            "LoadResult(documents, skipped)",
        )
    return result.documents, result.skipped


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


for _builtin in (TextLoader, MarkdownLoader, HtmlLoader, PdfLoader, CsvLoader, JsonlLoader):
    register_loader(_builtin)


__all__ = [
    "SUPPORTED_EXTENSIONS",
    "load_path",
    "load_path_report",
    "loader_for",
    "register_loader",
    "unregister_loader",
    "unsupported_reason",
]
