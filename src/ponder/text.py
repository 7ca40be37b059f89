"""Text utilities shared across Ponder: the one sentence splitter, word counts, token counts.

**Sentences.** ``sentence_spans(text)`` gives ``(start, end)`` character offsets (white space
trimmed); ``split_sentences(text)`` the same sentences as strings, white space folded. Both
come from one rule set:

- a sentence ends at ``.``, ``!``, ``?`` or ``…`` (any run of them, with closing quotes or
  brackets and any citation markers such as ``[2]`` or ``[source 1, 3]`` kept with it)
  followed by white space or the end of the text; ``。！？`` end one without a space;
- an end glued to the next sentence (``isolation.In 1987``: scraped news loses the space)
  ends one when a word (not a dotted name) stands before it and a capitalised word followed by
  a space or comma after it; ``csv.reader``, ``3.5``, ``os.path.Path`` and ``csv.DictReader``
  do not (``re.Pattern object`` does: in 400,000 characters of stdlib pydoc text six such
  false ends, against 2,450 true ones in the 350 FRANK news articles);
- a period after a known abbreviation (``Dr.``, ``e.g.``, ``Jan.``; ``No.`` and ``Fig.`` only
  before a number), an initial (``J.``) or a dotted acronym (``U.S.``) does not end one, nor
  does any end followed by a lower-case word (``"Great!" she said``); two periods do
  (``S.L.. Next``);
- a line break ends a sentence unless the next line starts in lower case (hard-wrapped prose
  goes on); a blank line always ends one;
- a piece without a letter or digit is not a sentence.

>>> split_sentences("Dr. Smith arrived at 5 p.m. on Friday. He left.It rained!")
['Dr. Smith arrived at 5 p.m. on Friday.', 'He left.', 'It rained!']
>>> t = "It reads rows. [1] The csv.reader class\\nparses lines [2]."
>>> [t[s:e] for s, e in sentence_spans(t)]
['It reads rows. [1]', 'The csv.reader class\\nparses lines [2].']

**Tokens.** ``count_tokens(text, counter)`` never raises: it is exact when ``counter`` (a
``Generator``, an ``Embedder``, anything with ``count_tokens``, or a function of a string) can
count, and otherwise an estimate flagged ``exact=False``: ``ceil(characters / 3)``. The
estimate errs on the side of more tokens, since it budgets context windows: over 800 texts
(FRANK articles, XQuAD contexts, tweets, SciFact abstracts) it is a median 1.45x the true
count of the SmolLM2 tokenizer and 1.5x MiniLM's, and below it for 5.9% and 1.6% of the texts
(characters / 4: 29% and 19%; ``bench/token_estimate.py``,
``bench/results/token_estimate.json``).

>>> count_tokens("How many tokens is this?")
TokenCount(n=8, exact=False, note='estimate: no token counter given')
>>> count_tokens("How many tokens is this?", lambda s: len(s.split())).n
5
>>> count_words("A short, plain sentence.")
4
>>> truncate_words("One two three. Four five six.", 4)
'One two three.'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CHARS_PER_TOKEN_ESTIMATE = 3

# Lower-cased abbreviations (without their final period) after which a period does not end a
# sentence.
ABBREVIATIONS = frozenset(
    str.split(
        """mr mrs ms dr prof sr jr st mt ft v vs c ca etc e.g i.e cf al approx dept est inc ltd
    co corp gen col lt sgt capt cmdr gov sen rep rev hon jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue wed thu fri sat sun a.m p.m u.s u.k u.n e.u d.c"""
    )
)
# Abbreviations that stand before a number ("No. 5", "Fig. 3"); before anything else their
# period ends the sentence ("...invoice no. Determine...").
NUMBER_ABBREVIATIONS = frozenset(str.split("no nos vol vols fig figs pp art ch sec eq"))
# Candidate ends: end punctuation (closing quotes/brackets and citation markers kept with it)
# before white space or the end; CJK end punctuation; a period glued to a capitalised word;
# a line break.
_CANDIDATE = re.compile(
    r"(?P<end>[.!?…]+[\"'’”)\]]*(?:[ \t]*\[(?:[A-Za-z]+\s*:?\s*)?\d{1,3}"
    r"(?:\s*[,;&-]\s*(?:[A-Za-z]+\s*)?\d{1,3})*\s*\][\"'’”)\]]*)*)(?=\s|$)"
    r"|(?P<cjk>[。！？]+[」』”）)]*)"
    r"|(?<![\w.])(?:[A-Za-z]{2,}|\d+[a-z]*)[\"'’”)\]]*(?P<glued>[.!?])[\"'’”)\]]*"
    r"(?=[\"“‘]?[A-Z][a-z’']*[ ,;:])"
    r"|(?P<line>\n)"
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_ACRONYM = re.compile(r"(?:\w\.)+\w")
_BLANK_LINE = re.compile(r"\n[ \t\f\v]*\n")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, white space trimmed (rules: module doc).

    >>> t = 'He said "Stop!" then left. Mr. J. Doe stayed.\\n\\nnew paragraph'
    >>> [t[s:e] for s, e in sentence_spans(t)]
    ['He said "Stop!" then left.', 'Mr. J. Doe stayed.', 'new paragraph']
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _CANDIDATE.finditer(text):
        if m.group("glued"):
            punct, end = m.start("glued"), m.end()
        else:
            punct, end = m.start(), m.end()
        if not _ends_sentence(text, punct, end, m.lastgroup or ""):
            continue
        _add_span(text, start, end, spans)
        start = end
    _add_span(text, start, len(text), spans)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (``sentence_spans``), each with its white space folded to
    single spaces.

    >>> split_sentences("The U.S. team won. Mr. J. Doe said: \\"Great!\\" Then he left")
    ['The U.S. team won.', 'Mr. J. Doe said: "Great!"', 'Then he left']
    """
    return [" ".join(text[s:e].split()) for s, e in sentence_spans(text)]


def _ends_sentence(text: str, punct: int, end: int, kind: str) -> bool:
    gap_end = end
    while gap_end < len(text) and text[gap_end].isspace():
        gap_end += 1
    if _BLANK_LINE.search(text, end - (kind == "line"), gap_end):
        return True
    after = text[gap_end] if gap_end < len(text) else ""
    if after.islower():
        return False
    if kind == "line":  # a line break after "Dr." or "e.g." does not end the sentence either
        last = punct - 1
        while last >= 0 and text[last].isspace():
            last -= 1
        return last < 0 or text[last] != "." or _period_ends(text, last, after)
    if kind == "cjk" or text[punct] != ".":
        return True
    return _period_ends(text, punct, after)


def _period_ends(text: str, punct: int, after: str) -> bool:
    if text[punct + 1 : punct + 2] == "." or text[punct - 1 : punct] == ".":
        return True  # a run of periods ("S.L.. Next", "etc... Then") ends the sentence
    m = _WORD_BEFORE.search(text, max(0, punct - 40), punct)
    word = m.group(1).lower() if m else ""
    before = text[m.start() - 1] if m and m.start() else " "
    if before.isspace() or before in "(\"'“‘[":  # a word of its own, not "°C." or "Gbit/s."
        if word in ABBREVIATIONS or _ACRONYM.fullmatch(word):  # "Dr.", "U.S.A."
            return False
        if word in NUMBER_ABBREVIATIONS and after.isdigit():  # "No. 5"
            return False
        if len(word) == 1 and word.isalpha() and text[punct - 1].isupper():  # "J. Doe"
            return False
    return not word.isdigit() or not after.isdigit()


def _add_span(text: str, s: int, e: int, spans: list[tuple[int, int]]) -> None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    if any(c.isalnum() for c in text[s:e]):
        spans.append((s, e))


# ------------------------------------------------------------------ words


def count_words(text: str) -> int:
    """Words in ``text`` (runs of letters/digits; hyphenated words count once)."""
    return len(_WORD.findall(text))


def truncate_words(text: str, max_words: int) -> str:
    """Cut ``text`` to at most ``max_words`` words, at a sentence end when one is in reach
    (the last sentence that ends within the limit), else at a word.

    >>> truncate_words("Alpha beta gamma delta", 2)
    'Alpha beta'
    """
    if max_words <= 0:
        return ""
    if count_words(text) <= max_words:
        return text
    kept: list[str] = []
    n = 0
    for s in split_sentences(text):
        w = count_words(s)
        if n + w > max_words:
            break
        kept.append(s)
        n += w
    if kept:
        return " ".join(kept)
    out: list[str] = []
    n = 0
    for w in text.split():
        n += count_words(w)
        if n > max_words:
            break
        out.append(w)
    return " ".join(out)


# ------------------------------------------------------------------ tokens


@dataclass(frozen=True)
class TokenCount:
    """``n`` tokens; ``exact`` when a tokenizer counted them, else an estimate; ``note`` says
    which, and why a counter that was given could not count."""

    n: int
    exact: bool
    note: str = ""

    def __int__(self) -> int:
        return self.n


def estimate_tokens(text: str) -> int:
    """The documented estimate: ``ceil(len(text) / 3)`` (see the module doc for how it was
    measured).

    >>> estimate_tokens(""), estimate_tokens("abcd")
    (0, 2)
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)


def count_tokens(text: str, counter: Any = None) -> TokenCount:
    """Tokens in ``text``: exact from ``counter`` (an object with ``count_tokens``, or a
    function of a string) when it can count, else ``estimate_tokens``. Never raises.

    >>> from ponder.llm.fake import ScriptedGenerator
    >>> count_tokens("two words", ScriptedGenerator(["x"])).exact
    True
    """
    if counter is None:
        return TokenCount(estimate_tokens(text), False, "estimate: no token counter given")
    fn: Callable[[str], Any] = getattr(counter, "count_tokens", counter)
    try:
        return TokenCount(int(fn(text)), True)
    # One place for every backend's way of saying it has no tokenizer (an HTTP server raises
    # BackendUnavailableError, a bare function anything): the caller gets an estimate.
    except Exception as e:
        return TokenCount(
            estimate_tokens(text), False, f"estimate: the counter failed ({type(e).__name__}: {e})"
        )


def token_counter(counter: Any = None) -> Callable[[str], int]:
    """``count_tokens`` as a plain ``str -> int`` function (for code that takes one).

    >>> token_counter()("abcdef")
    2
    """
    return lambda text: count_tokens(text, counter).n


__all__ = [
    "ABBREVIATIONS",
    "CHARS_PER_TOKEN_ESTIMATE",
    "NUMBER_ABBREVIATIONS",
    "TokenCount",
    "count_tokens",
    "count_words",
    "estimate_tokens",
    "sentence_spans",
    "split_sentences",
    "token_counter",
    "truncate_words",
]
