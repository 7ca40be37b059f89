"""Profanity: words from ``better-profanity``'s maintained word list (shipped inside the
package, nothing downloaded), matched whole-word and case-insensitively, with common
character substitutions undone (``$h1t`` reads as ``shit``).

>>> [m.text for m in find_profanity("What the hell, you b1tch!")]
['hell', 'b1tch']
>>> find_profanity("Scunthorpe is a town; class assignments are due.")
[]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ponder.errors import BackendUnavailableError

_WORD = re.compile(r"[A-Za-z0-9@$*|]+(?:!+[A-Za-z0-9@$*|]+)*(?:[-'][A-Za-z]+)*")
_LEET = str.maketrans({"@": "a", "$": "s", "0": "o", "1": "i", "!": "i", "3": "e", "4": "a",
                       "5": "s", "7": "t", "|": "l", "*": "u"})


@dataclass(frozen=True)
class ProfanityMatch:
    start: int
    end: int
    text: str
    word: str

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "word": self.word}


@lru_cache(maxsize=1)
def word_list() -> tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]:
    """The single words and the multi-word phrases of better-profanity's list."""
    try:
        text = (resources.files("better_profanity") / "profanity_wordlist.txt").read_text(
            encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise BackendUnavailableError(
            f"the profanity word list comes from better-profanity ({e}): pip install "
            "better-profanity") from None
    words: set[str] = set()
    phrases: dict[str, set[tuple[str, ...]]] = {}
    for line in text.splitlines():
        w = line.strip().lower()
        if not w:
            continue
        if " " in w:
            parts = tuple(w.split())
            phrases.setdefault(parts[0], set()).add(parts)
        else:
            words.add(w)
    return frozenset(words), {k: tuple(sorted(v, key=len, reverse=True))
                              for k, v in phrases.items()}


def _normal(word: str) -> str:
    return word.lower().translate(_LEET)


def find_profanity(text: str) -> list[ProfanityMatch]:
    """Profane words and phrases in ``text`` with their spans."""
    words, phrases = word_list()
    toks = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text)]
    norm = [_normal(t) for _, _, t in toks]
    out: list[ProfanityMatch] = []
    i = 0
    while i < len(toks):
        hit = None
        for ph in phrases.get(norm[i], ()):
            n = len(ph)
            if tuple(norm[i : i + n]) == ph:
                hit = n
                break
        if hit is None and (norm[i] in words or toks[i][2].lower() in words):
            hit = 1
        if hit:
            s, e = toks[i][0], toks[i + hit - 1][1]
            out.append(ProfanityMatch(s, e, text[s:e], " ".join(norm[i : i + hit])))
            i += hit
        else:
            i += 1
    return out


__all__ = ["ProfanityMatch", "find_profanity", "word_list"]
