"""PDF loader (``.pdf``): the text layer of each page, with 1-based page numbers on every block.

Uses ``pypdf``. Paragraphs are split on blank lines within a page; PDFs carry no reliable
headings, so there are no heading blocks. A PDF without a text layer (scanned pages) is an
error that says OCR is needed; an encrypted PDF is opened only when its password is empty.

>>> load_pdf(Path("missing.pdf"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.LoaderError: .../missing.pdf: no such file; check the path
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ponder.errors import LoaderError
from ponder.ingest.loader import Loader, LoadResult
from ponder.ingest.textutil import DocumentBuilder, normalize_newlines, read_bytes, source_of
from ponder.types import LoadedDocument

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def load_pdf(path: Path) -> LoadedDocument:
    """Load a PDF's text, page by page; raises ``LoaderError`` with the reason and the fix."""
    source = source_of(path)
    data = read_bytes(Path(path), source)
    if not data.strip():
        raise LoaderError(source, "the file is empty; nothing to ingest")
    if b"%PDF-" not in data[:1024]:
        raise LoaderError(
            source, "is not a PDF (no %PDF header); check the file or give it the right extension"
        )
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, PyPdfError

    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                _decrypt(reader, source)
            pages = list(reader.pages)
        except LoaderError:
            raise
        except DependencyError as exc:
            raise LoaderError(source, f"cannot be opened: {exc}; install it and retry") from None
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise LoaderError(
                source, f"is corrupt or truncated ({_short(exc)}); re-export or repair the PDF"
            ) from None
        builder = DocumentBuilder()
        failed: list[int] = []
        for number, page in enumerate(pages, start=1):
            try:
                raw = page.extract_text() or ""
            except Exception:  # a broken page must not lose the others
                failed.append(number)
                continue
            builder.paragraphs(_clean(raw), page=number)
        metadata = _metadata(reader, source, len(pages))
    if failed:
        metadata["pages_unreadable"] = failed
    if not builder.blocks:
        if failed and len(failed) == len(pages):
            raise LoaderError(source, "is corrupt: no page could be read; re-export the PDF")
        raise LoaderError(
            source,
            f"has no text layer ({len(pages)} page(s), no extractable text): it is probably "
            "scanned images; run OCR first (e.g. `ocrmypdf in.pdf out.pdf`) and ingest the result",
        )
    return builder.build(source, metadata)


def _decrypt(reader: Any, source: str) -> None:
    from pypdf.errors import DependencyError

    try:
        ok = reader.decrypt("")
    except DependencyError as exc:
        raise LoaderError(
            source,
            f"is encrypted and cannot be decrypted here ({exc}); install the missing package "
            "or decrypt it first (e.g. `qpdf --decrypt in.pdf out.pdf`)",
        ) from None
    if not ok:
        raise LoaderError(
            source,
            "is encrypted with a password; decrypt it first (e.g. "
            "`qpdf --password=PASSWORD --decrypt in.pdf out.pdf`) and ingest the result",
        )


def _metadata(reader: Any, source: str, page_count: int) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "file_type": "pdf",
        "file_name": Path(source).name,
        "page_count": page_count,
    }
    try:
        info = reader.metadata
    except Exception:
        info = None
    if info:
        for key, attr in (("title", "title"), ("author", "author"), ("subject", "subject")):
            try:
                value = getattr(info, attr)
            except Exception:
                value = None
            if isinstance(value, str) and value.strip():
                metadata[key] = " ".join(value.split())
    return metadata


def _clean(text: str) -> str:
    r"""Normalise a page's extracted text: newlines, stray control characters, trailing spaces.

    >>> _clean("Hello \r\nworld\x00!")
    'Hello\nworld !'
    """
    text = _CONTROL.sub(" ", normalize_newlines(text))
    return _TRAILING_SPACE.sub("\n", text)


def _short(exc: BaseException) -> str:
    msg = str(exc) or type(exc).__name__
    return msg if len(msg) <= 120 else msg[:117] + "..."


@contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs warnings for every oddity it repairs; keep them off the user's terminal."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


class PdfLoader(Loader):
    """``.pdf`` files: :func:`load_pdf` (one block per page)."""

    extensions = (".pdf",)

    def load(self, path: Path) -> LoadResult:
        return LoadResult([load_pdf(path)])
