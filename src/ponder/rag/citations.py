"""Citation checking: renumber ``[n]`` markers, drop numbers that point at no source, and
match every answer sentence to the sources that support it.

**Renumbering.** Sources are numbered 1..m in the prompt; the answer's markers are renumbered
1.. in order of first citation, and a number with no source behind it is removed (and
reported). ``CitationMapper`` does it on a stream of tokens too, so what the terminal shows
while the answer streams is already the final numbering.

>>> m = CitationMapper(valid={1, 2, 3})
>>> m.map_text("Use DictReader [3]. It reads the header [3, 9]. See also [1].")
'Use DictReader [1]. It reads the header [1]. See also [2].'
>>> m.order, m.removed
([3, 1], [9])

**Support.** A sentence is *supported* by a source when at least ``SUPPORT_THRESHOLD`` (0.6)
of its content words (lower-cased, stop words dropped, plural "s" stripped) occur in the
source and every number in the sentence occurs there too (a changed figure is not supported).
The small default model copies its sources almost verbatim, which this lexical containment
measures well; a model that paraphrases needs the embedding check as well (``embedder=``:
the sentence counts as supported when its cosine similarity with some sentence of the source
reaches ``EMBED_THRESHOLD``, 0.75 for MiniLM). Sentences with fewer than two content words are
``filler`` and a "the sources do not contain the answer" sentence is a ``refusal``: neither
is checked.

>>> support_score("DictReader reads the header row.", "csv.DictReader reads the header row.")
1.0
>>> support_score("The file has 12 rows.", "The file has 10 rows.")
0.0
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ponder.embed.base import Embedder
from ponder.text import sentence_spans

SUPPORT_THRESHOLD = 0.6
EMBED_THRESHOLD = 0.75
MIN_CLAIM_WORDS = 2

_CITE = re.compile(
    r"\[\s*(?:(?:sources?|src|doc(?:ument)?s?)\s*:?\s*)?"
    r"(\d{1,3}(?:\s*[,;&]\s*(?:(?:sources?|and)\s*)?\d{1,3})*)\s*\]",
    re.IGNORECASE,
)
_CITE_PREFIX = re.compile(r"\[\s*(?:(?:s|so|sou|sour|sourc|sources?|src|d|do|doc\w*)\s*:?\s*)?"
                          r"(?:\d{1,3}(?:\s*[,;&]\s*(?:(?:s\w*|a\w*)\s*)?\d{0,3})*)?\s*$",
                          re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_REFUSAL = re.compile(
    r"\b(?:(?:do|does|did)\s+not|don't|doesn't|cannot|can't|could\s+not|unable\s+to|no)\s+"
    r"(?:\w+\s+){0,3}(?:contain|include|mention|say|provide|answer|find|know|information|"
    r"answer|specify|state|address|cover)\b|\bnot\s+(?:mentioned|specified|stated|provided|"
    r"found|given|covered|available|known)\b|\bno\s+(?:information|answer|mention|relevant)\b"
    r"|\b(?:is|are|remains?)\s+unknown\b",
    re.IGNORECASE,
)
STOPWORDS_TEXT = """
    a an the and or but if then else of to in on at by for with from as is are was were be
    been being it its this that these those there here which who whom whose what when where
    why how not no yes do does did done can could should would will shall may might must
    have has had having i you he she we they them his her their our your my me us him so
    such than too very also just only into onto out over under up down about above below
    between through during before after again further once all any both each few more most
    other some same own s t don now use used using get gets one per via e.g i.e etc like
    based according source sources answer question text
"""
STOPWORDS = frozenset(STOPWORDS_TEXT.split())


def _stem(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def content_words(text: str) -> list[str]:
    """Lower-cased content words of ``text`` (citation markers and stop words dropped).

    >>> content_words("The csv module [2] reads rows.")
    ['csv', 'module', 'read', 'row']
    """
    text = _CITE.sub(" ", text.lower())
    return [_stem(w) for w in _WORD.findall(text) if w not in STOPWORDS and not w.isdigit()]


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(_CITE.sub(" ", text))}


def support_score(sentence: str, source: str) -> float:
    """Share of the sentence's content words found in ``source`` (0 if a number is missing)."""
    words = set(content_words(sentence))
    if not words:
        return 0.0
    nums = _numbers(sentence)
    if nums and not nums <= _numbers(source):
        return 0.0
    have = set(content_words(source))
    return round(len(words & have) / len(words), 4)


def is_refusal(sentence: str) -> bool:
    """True for "the sources do not contain the answer" and similar.

    >>> is_refusal("The sources do not contain the answer."), is_refusal("It has 3 rows.")
    (True, False)
    """
    return _REFUSAL.search(sentence) is not None


def cited_numbers(sentence: str) -> list[int]:
    """The citation numbers in ``sentence``, in order, without repeats.

    >>> cited_numbers("A [2]. B [1, 2][Source 3].")
    [2, 1, 3]
    """
    out: list[int] = []
    for m in _CITE.finditer(sentence):
        for n in re.findall(r"\d+", m.group(1)):
            if int(n) not in out:
                out.append(int(n))
    return out


class CitationMapper:
    """Renumbers citation markers in order of first citation and removes invalid ones.

    Use ``map_text`` on a whole text, or ``feed``/``flush`` on a stream of pieces: text that
    might be the start of a marker (``"[1"``) is held back until it is complete.

    >>> m = CitationMapper(valid={1, 2})
    >>> "".join([m.feed("See [2"), m.feed("]. And [7]"), m.feed("."), m.flush()])
    'See [1]. And.'
    """

    def __init__(self, valid: set[int] | Sequence[int]) -> None:
        self.valid = set(valid)
        self.mapping: dict[int, int] = {}
        self.order: list[int] = []
        self.removed: list[int] = []
        self._buf = ""
        self._prev = " "  # the character before the text being mapped (for streams)

    def _render(self, m: re.Match[str]) -> str:
        before = m.string[m.start() - 1] if m.start() > 0 else self._prev
        numbers = [int(raw) for raw in re.findall(r"\d+", m.group(1))]
        if (before.isalnum() or before in "_)]") and not any(n in self.valid for n in numbers):
            return m.group(0)  # x[0], f(x)[2]: indexing in code, not a citation
        nums: list[int] = []
        for n in numbers:
            if n not in self.valid:
                if n not in self.removed:
                    self.removed.append(n)
                continue
            if n not in self.mapping:
                self.order.append(n)
                self.mapping[n] = len(self.order)
            if self.mapping[n] not in nums:
                nums.append(self.mapping[n])
        return f"[{', '.join(str(n) for n in nums)}]" if nums else "\x00"

    def _map(self, text: str) -> str:
        out = _CITE.sub(self._render, text)
        # a removed marker takes the space before it along: "And [7]." -> "And."
        out = re.sub(r"[ \t]*\x00", "", out)
        if text:
            self._prev = text[-1]
        return out

    def map_text(self, text: str) -> str:
        return self._map(text)

    def feed(self, piece: str) -> str:
        """Map the next piece of a stream; returns the text that is safe to show now."""
        text = self._buf + piece
        self._buf = ""
        cut = text.rfind("[")
        if cut >= 0 and "]" not in text[cut:] and _CITE_PREFIX.fullmatch(text[cut:]):
            # hold back a possible marker and the spaces before it (the marker may vanish)
            start = cut
            while start > 0 and text[start - 1] in " \t":
                start -= 1
            self._buf = text[start:]
            text = text[:start]
        return self._map(text)

    def flush(self) -> str:
        text, self._buf = self._buf, ""
        return self._map(text)


@dataclass(frozen=True)
class SupportResult:
    """Support of one sentence, in the prompt's numbering."""

    start: int
    end: int
    text: str
    cited: tuple[int, ...]
    supported_by: tuple[int, ...]
    score: float
    best_quote: dict[int, str]
    kind: str


def _source_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)] or [text]


def check_support(
    answer: str,
    sources: Mapping[int, str],
    *,
    threshold: float = SUPPORT_THRESHOLD,
    embedder: Embedder | None = None,
    embed_threshold: float = EMBED_THRESHOLD,
) -> list[SupportResult]:
    """Check each sentence of ``answer`` against ``sources`` (``{number: text}``; the numbers
    the answer's markers use).

    >>> r = check_support("Cats purr [1]. Dogs can fly [1].", {1: "Cats purr when happy."})
    >>> [(x.supported_by, x.kind) for x in r]
    [((1,), 'claim'), ((), 'claim')]
    """
    spans = sentence_spans(answer)
    sents = [answer[s:e] for s, e in spans]
    src_sents = {n: _source_sentences(t) for n, t in sources.items()}
    sims: dict[int, np.ndarray] = {}
    if embedder is not None and sents and sources:
        sims = _embedding_support(embedder, sents, src_sents)
    out: list[SupportResult] = []
    for i, ((s, e), sent) in enumerate(zip(spans, sents, strict=True)):
        cited = tuple(cited_numbers(sent))
        words = content_words(sent)
        if is_refusal(sent):
            kind = "refusal"
        elif len(set(words)) + len(_numbers(sent)) < MIN_CLAIM_WORDS:
            kind = "filler"
        else:
            kind = "claim"
        supported: list[int] = []
        best = 0.0
        quotes: dict[int, str] = {}
        for n, text in sources.items():
            score = support_score(sent, text)
            if n in sims:
                score = max(score, float(sims[n][i]) * threshold / embed_threshold)
            if kind == "claim" and score >= threshold:
                supported.append(n)
                quotes[n] = max(src_sents[n], key=lambda q: support_score(sent, q))
            best = max(best, score)
        # cited sources first, then the others, each group by number
        supported.sort(key=lambda n: (n not in cited, n))
        out.append(SupportResult(s, e, sent, cited, tuple(supported), best, quotes, kind))
    return out


def _embedding_support(
    embedder: Embedder, sents: list[str], src_sents: Mapping[int, list[str]]
) -> dict[int, np.ndarray]:
    """``{source n: max cosine similarity of each answer sentence with the source's sentences}``."""
    flat = [(n, t) for n, ts in src_sents.items() for t in ts]
    vecs = embedder.embed([*sents, *(t for _, t in flat)])
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    a, b = vecs[: len(sents)], vecs[len(sents) :]
    sim = a @ b.T
    out: dict[int, np.ndarray] = {}
    for j, (n, _) in enumerate(flat):
        col = sim[:, j]
        out[n] = col if n not in out else np.maximum(out[n], col)
    return out


__all__ = [
    "EMBED_THRESHOLD",
    "MIN_CLAIM_WORDS",
    "SUPPORT_THRESHOLD",
    "CitationMapper",
    "SupportResult",
    "check_support",
    "cited_numbers",
    "content_words",
    "is_refusal",
    "support_score",
]
