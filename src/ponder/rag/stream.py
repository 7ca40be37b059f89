"""Streaming the answer to the user while it is checked.

``AnswerStream`` is the chains' ``Sink``: each piece of the final step goes through
``TermMasker`` (payloads of neutralised injections are never shown, even for a moment) and
``CitationMapper`` (markers shown already renumbered, invalid ones dropped), then to the output:
a Rich console, a text file or any ``callable(str)``.

>>> out = []
>>> s = AnswerStream(out.append, terms=["PINEAPPLE"])
>>> s.begin([])
>>> for piece in ["Rome [", "3]. PINE", "APPLE!"]:
...     s.write(piece)
>>> s.close()
>>> "".join(out)
'Rome. !'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ponder.rag.citations import CitationMapper
from ponder.rag.packing import Source


class TermMasker:
    """Removes whole occurrences of ``terms`` (case-insensitive) from a stream of pieces,
    holding back text that might be the start of one.

    >>> m = TermMasker(["secret"])
    >>> m.feed("a SEC"), m.feed("RET b"), m.flush()
    ('a ', ' b', '')
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = sorted({t.lower() for t in terms if t}, key=len, reverse=True)
        self._pat = (
            re.compile("|".join(re.escape(t) for t in self.terms), re.IGNORECASE)
            if self.terms
            else None
        )
        self._buf = ""
        self.hits = 0

    def feed(self, piece: str) -> str:
        if self._pat is None:
            return piece
        text = self._buf + piece
        text, n = self._pat.subn("", text)
        self.hits += n
        low = text.lower()
        hold = 0
        for t in self.terms:
            for k in range(min(len(t) - 1, len(low)), 0, -1):
                if low.endswith(t[:k]):
                    hold = max(hold, k)
                    break
        self._buf = text[len(text) - hold :] if hold else ""
        return text[: len(text) - hold] if hold else text

    def flush(self) -> str:
        text, self._buf = self._buf, ""
        return text


def writer_for(target: Any) -> Callable[[str], None] | None:
    """A ``write(str)`` function for a Rich console, a text file or a callable."""
    if target is None:
        return None
    if hasattr(target, "print") and hasattr(target, "file"):  # rich.console.Console

        def to_console(text: str) -> None:
            target.print(text, end="", markup=False, highlight=False, soft_wrap=True)

        return to_console
    if hasattr(target, "write"):

        def to_file(text: str) -> None:
            target.write(text)
            if hasattr(target, "flush"):
                target.flush()

        return to_file
    if callable(target):
        return target  # type: ignore[no-any-return]
    raise TypeError(f"cannot stream to {type(target).__name__}: give a console, file or callable")


class AnswerStream:
    """The sink for the final step: masks payloads, renumbers citations, writes, and records
    when the first visible text went out (``first_at``, a ``time.perf_counter`` value)."""

    def __init__(self, target: Any = None, *, terms: Iterable[str] = ()) -> None:
        self._write = writer_for(target)
        self._terms = list(terms)
        self.masker = TermMasker(self._terms)
        self.mapper = CitationMapper(set())
        self.first_at: float | None = None
        self.shown: list[str] = []

    def begin(self, sources: Sequence[Source]) -> None:
        self.masker = TermMasker(self._terms)
        self.mapper = CitationMapper({s.n for s in sources})
        self.shown = []

    def _out(self, text: str) -> None:
        if not text:
            return
        if self.first_at is None:
            self.first_at = time.perf_counter()
        self.shown.append(text)
        if self._write is not None:
            self._write(text)

    def write(self, piece: str) -> None:
        self._out(self.mapper.feed(self.masker.feed(piece)))

    def close(self) -> None:
        self._out(self.mapper.feed(self.masker.flush()))
        self._out(self.mapper.flush())

    @property
    def text(self) -> str:
        """What was shown."""
        return "".join(self.shown)


__all__ = ["AnswerStream", "TermMasker", "writer_for"]
