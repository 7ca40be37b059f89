"""Small text utilities shared by the task pipelines: sentence splitting, word counts, input checks.

>>> split_sentences("Dr. Smith arrived at 5 p.m. on Friday. He left.It rained!")
['Dr. Smith arrived at 5 p.m. on Friday.', 'He left.', 'It rained!']
>>> count_words("A short, plain sentence.")
4
>>> truncate_words("One two three. Four five six.", 4)
'One two three.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.errors import InputError

# Lower-cased abbreviations (without their final period) after which a period does not end a
# sentence.
_ABBREVIATIONS = frozenset(
    str.split(
        """mr mrs ms dr prof sr jr st mt ft vs etc e.g i.e cf al fig no nos vol pp approx dept est
    inc ltd co corp gen col lt sgt capt cmdr gov sen rep rev hon jan feb mar apr jun jul aug sep
    sept oct nov dec mon tue wed thu fri sat sun a.m p.m u.s u.k u.n e.u d.c"""
    )
)
# A candidate boundary: end punctuation (with closing quotes/brackets), then either whitespace or
# directly an upper-case letter (news text often lacks the space: "community.Dr Venter").
_BOUNDARY = re.compile(r"[.!?…]+[\"'’”)\]]*(?:\s+|(?=[A-Z\"“‘]))")
_WORD = re.compile(r"\w+(?:[-'’]\w+)*", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (paragraph breaks always end one).

    Rule-based: a period ends a sentence unless it follows a known abbreviation or a single
    letter (an initial), or the next character is lower-case.

    >>> split_sentences("The U.S. team won. Mr. J. Doe said: \\"Great!\\" Then he left")
    ['The U.S. team won.', 'Mr. J. Doe said: "Great!"', 'Then he left']
    """
    out: list[str] = []
    for para in re.split(r"\n\s*\n|\n(?=\s*[-*•]\s)", text):
        para = " ".join(para.split())
        if para:
            out.extend(_split_paragraph(para))
    return out


def _split_paragraph(para: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(para):
        end = m.end()
        if end >= len(para):
            break
        if not _is_boundary(para, m.start(), end):
            continue
        piece = para[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = para[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _is_boundary(text: str, punct: int, nxt: int) -> bool:
    after = text[nxt] if nxt < len(text) else ""
    if after and after.islower():
        return False
    if text[punct] != ".":
        return True
    before = re.search(r"([\w.]+)$", text[:punct])
    word = before.group(1).lower() if before else ""
    if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
        return False
    # "U.S.A." style: letters separated by periods
    if re.fullmatch(r"(?:\w\.)+\w", word):
        return False
    return not word.isdigit() or not after.isdigit()


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
    words = text.split()
    out: list[str] = []
    n = 0
    for w in words:
        n += count_words(w)
        if n > max_words:
            break
        out.append(w)
    return " ".join(out)


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


def check_labels(
    labels: Sequence[str] | str, *, minimum: int = 2, what: str = "labels"
) -> list[str]:
    """Clean a label set: a list or a comma-separated string; blanks and duplicates refused.

    >>> check_labels("positive, negative,neutral")
    ['positive', 'negative', 'neutral']
    >>> check_labels(["spam"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: a label set of one ('spam') leaves nothing to choose between: ...
    """
    from ponder.errors import ConfigError

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
    return cleaned


__all__ = ["check_labels", "check_text", "count_words", "split_sentences", "truncate_words"]
