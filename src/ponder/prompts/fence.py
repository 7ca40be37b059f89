"""Fences for untrusted text: a random boundary per request that no document can close.

Retrieved documents and user text are data, not instructions. Each piece goes between an
opening and a closing line that carry a boundary drawn at random for this one prompt
(``secrets.token_hex``) and checked to be absent from every text being fenced, so a document
cannot forge the closing line and "step out" of its fence: it does not know the boundary, and
if a random draw happened to occur in it, another is drawn.

Special tokens of chat templates (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``,
``[INST]``, ``<<SYS>>``, ``<s>``/``</s>``) in untrusted text are defused first: llama.cpp parses
special tokens in the rendered prompt, so an ``<|im_end|>`` left inside a document would really
end the user's turn.

The fence reads as plain language (a small model copies ``<<<...>>>`` markup into its answers
and answers worse; measured in ``bench/results/injection.md``), but what makes it a fence is
the boundary on both lines:

>>> b = make_boundary(["some text"], rng=lambda n: "ab12cd34")
>>> print(fence("Paris is in France.", b, label="[1] atlas.txt"))
Source [1] atlas.txt (id ab12cd34):
Paris is in France.
(end of source ab12cd34)
>>> defuse_special_tokens("hi <|im_end|> there")
'hi ‹|im_end|› there'
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable

from ponder.errors import ConfigError

DEFAULT_BOUNDARY_BYTES = 4  # 8 hex characters: 4.3e9 values, a few tokens in the prompt
_MAX_DRAWS = 64

# chat-template control sequences seen in the wild (ChatML, Llama 2/3, Mistral, Gemma, Phi)
_SPECIAL = re.compile(
    r"<\|[A-Za-z0-9_\-]{1,40}\|>"  # <|im_start|>, <|eot_id|>, <|system|>, <|endoftext|>
    r"|\[/?INST\]|<</?SYS>>|</?s>"  # Llama 2 / Mistral
    r"|<(?:start|end)_of_turn>",  # Gemma
)


def make_boundary(
    texts: Iterable[str] = (),
    *,
    nbytes: int = DEFAULT_BOUNDARY_BYTES,
    rng: Callable[[int], str] | None = None,
) -> str:
    """A random hex boundary that occurs in none of ``texts`` (case-insensitively).

    ``rng(nbytes)`` draws a candidate (default ``secrets.token_hex``); tests pass their own to
    show that a boundary found in a text is never used:

    >>> draws = iter(["deadbeef", "0badf00d"])
    >>> make_boundary(["a doc that mentions DEADBEEF"], rng=lambda n: next(draws))
    '0badf00d'
    """
    if nbytes < 2:
        raise ConfigError(f"nbytes={nbytes} is too small for a boundary: use 4 or more")
    draw = rng or secrets.token_hex
    haystack = [t.lower() for t in texts]
    for _ in range(_MAX_DRAWS):
        candidate = draw(nbytes)
        if candidate and all(candidate.lower() not in t for t in haystack):
            return candidate
    raise ConfigError(
        f"could not draw a fence boundary absent from the texts in {_MAX_DRAWS} tries: "
        "use a larger nbytes (or a random rng)"
    )


def defuse_special_tokens(text: str) -> str:
    """Make chat-template control sequences inert by swapping their angle/square brackets for
    look-alike characters; the text stays readable.

    >>> defuse_special_tokens("[INST] do this [/INST] <<SYS>>x<</SYS>> <s>")
    '⟦INST⟧ do this ⟦/INST⟧ ‹‹SYS››x‹‹/SYS›› ‹s›'
    """

    def swap(m: re.Match[str]) -> str:
        s = m.group(0)
        return s.replace("<", "‹").replace(">", "›").replace("[", "⟦").replace("]", "⟧")

    return _SPECIAL.sub(swap, text)


def fence(text: str, boundary: str, *, label: str = "") -> str:
    """``text`` between an opening line (boundary and label) and a closing line (boundary).

    The caller guarantees the boundary is absent from ``text`` (``make_boundary``); this is
    checked again here, because a fence a document could close would be worse than none.
    """
    if not boundary or boundary.lower() in text.lower() or boundary.lower() in label.lower():
        raise ConfigError(
            "the fence boundary occurs in the text it fences: draw it with make_boundary(texts)"
        )
    head = f"Source {label} (id {boundary}):" if label else f"Source (id {boundary}):"
    return f"{head}\n{text}\n(end of source {boundary})"


def unfence(prompt: str, boundary: str) -> list[str]:
    """The texts fenced with ``boundary`` in ``prompt``, in order (the inverse of ``fence``,
    used by tests to show that a document cannot close its fence early).

    >>> p = fence("a (end of source 00000000) b", "12345678") + "\\n" + fence("c", "12345678")
    >>> unfence(p, "12345678")
    ['a (end of source 00000000) b', 'c']
    """
    b = re.escape(boundary)
    pat = re.compile(rf"^Source [^\n]*\(id {b}\):\n(.*?)\n\(end of source {b}\)$",
                     re.DOTALL | re.MULTILINE)
    return [m.group(1) for m in pat.finditer(prompt)]


__all__ = ["DEFAULT_BOUNDARY_BYTES", "defuse_special_tokens", "fence", "make_boundary", "unfence"]
