"""GBNF grammars: parse them, match text against them, and mask the tokens they forbid.

One engine for every logits backend (llama.cpp, transformers, the toy model) and for the
scripted fake: the grammar language is llama.cpp's GBNF (rules ``name ::= ...``, literals
``"..."``, character classes ``[a-z]`` / ``[^"\\\\]``, ``.``, groups, ``| * + ?`` and
``{m,n}``, ``#`` comments), so the grammars llama.cpp's JSON-schema converter writes work as
they are. Matching follows llama.cpp's algorithm: a set of pushdown stacks advanced one
character at a time. ``TokenConstraint`` applies it to decoding: at each step it checks the
model's most probable tokens in order and keeps only those the grammar allows (end of
sequence only once the grammar is complete), so greedy decoding takes the best allowed token.

>>> g = Grammar.parse('root ::= "yes" | "no" | [0-9]{1,3}')
>>> g.matches("yes"), g.matches("42"), g.matches("1234"), g.matches("maybe")
(True, True, False, False)
>>> g.prefix_ok("ye"), g.prefix_ok("yo")
(True, False)
>>> Grammar.parse('root ::= item')  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: grammar: rule 'item' is used but never defined...
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ponder.errors import ConfigError, GenerationError

Pos = tuple[int, int, int]  # (rule, alternative, element index)
Stack = tuple[Pos, ...]
Stacks = frozenset[Stack]
MAX_CODEPOINT = 0x10FFFF


@dataclass(frozen=True)
class CharSet:
    """A set of code points: ``ranges`` (inclusive), complemented when ``negated``."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False

    def __contains__(self, cp: int) -> bool:
        inside = any(lo <= cp <= hi for lo, hi in self.ranges)
        return inside != self.negated

    def mask(self, cps: np.ndarray) -> np.ndarray:
        """Which of the code points ``cps`` are in the set (``cps < 0`` never are)."""
        inside = np.zeros(len(cps), dtype=bool)
        for lo, hi in self.ranges:
            inside |= (cps >= lo) & (cps <= hi)
        if self.negated:
            inside = ~inside
        return inside & (cps >= 0)  # type: ignore[no-any-return]

    @property
    def allows_non_ascii(self) -> bool:
        if self.negated:
            return not any(lo <= 0x80 and hi >= MAX_CODEPOINT for lo, hi in self.ranges)
        return any(hi >= 0x80 for _, hi in self.ranges)


Element = int | CharSet  # a rule reference or a character set


class _Parser:
    def __init__(self, text: str) -> None:
        self.src = text
        self.pos = 0
        self.names: dict[str, int] = {}
        self.rules: list[list[tuple[Element, ...]] | None] = []
        self.used: dict[int, str] = {}

    def error(self, what: str) -> ConfigError:
        line = self.src.count("\n", 0, self.pos) + 1
        near = self.src[self.pos : self.pos + 20].split("\n")[0]
        return ConfigError(f"grammar: {what} at line {line} (near {near!r}): fix the GBNF text")

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def space(self, newlines: bool) -> None:
        while self.pos < len(self.src):
            c = self.src[self.pos]
            if c in " \t" or (newlines and c in "\r\n"):
                self.pos += 1
            elif c == "#":
                while self.pos < len(self.src) and self.src[self.pos] not in "\r\n":
                    self.pos += 1
            else:
                break

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.src) and (self.src[self.pos].isalnum()
                                            or self.src[self.pos] in "-_"):
            self.pos += 1
        if start == self.pos:
            raise self.error("expected a rule name")
        return self.src[start : self.pos]

    def rule_id(self, name: str) -> int:
        if name not in self.names:
            self.names[name] = len(self.rules)
            self.rules.append(None)
        return self.names[name]

    def new_rule(self, alts: list[tuple[Element, ...]]) -> int:
        self.rules.append(alts)
        return len(self.rules) - 1

    def parse(self) -> None:
        while True:
            self.space(True)
            if self.pos >= len(self.src):
                break
            name = self.name()
            self.space(False)
            if not self.src.startswith("::=", self.pos):
                raise self.error(f"expected '::=' after rule name {name!r}")
            self.pos += 3
            self.space(True)
            rid = self.rule_id(name)
            if self.rules[rid] is not None:
                raise self.error(f"rule {name!r} is defined twice")
            self.rules[rid] = self.alternates(nested=False)
            if self.peek() not in ("", "\n", "\r"):
                raise self.error("unexpected character")

    def alternates(self, nested: bool) -> list[tuple[Element, ...]]:
        alts = [self.sequence(nested)]
        while self.peek() == "|":
            self.pos += 1
            self.space(True)
            alts.append(self.sequence(nested))
        return alts

    def sequence(self, nested: bool) -> tuple[Element, ...]:
        seq: list[Element] = []
        last: list[Element] = []
        while True:
            c = self.peek()
            if c == '"':
                self.pos += 1
                last = []
                while self.peek() != '"':
                    if not self.peek():
                        raise self.error("unterminated string literal")
                    cp = self.char()
                    last.append(CharSet(((cp, cp),)))
                self.pos += 1
                seq.extend(last)
            elif c == "[":
                self.pos += 1
                negated = self.peek() == "^"
                if negated:
                    self.pos += 1
                ranges: list[tuple[int, int]] = []
                while self.peek() != "]":
                    if not self.peek():
                        raise self.error("unterminated character class")
                    lo = self.char()
                    hi = lo
                    after = self.src[self.pos + 1 : self.pos + 2]
                    if self.peek() == "-" and after not in ("]", ""):
                        self.pos += 1
                        hi = self.char()
                    ranges.append((lo, hi))
                self.pos += 1
                last = [CharSet(tuple(ranges), negated)]
                seq.extend(last)
            elif c == ".":
                self.pos += 1
                last = [CharSet(((0, MAX_CODEPOINT),))]
                seq.extend(last)
            elif c == "(":
                self.pos += 1
                self.space(True)
                alts = self.alternates(nested=True)
                if self.peek() != ")":
                    raise self.error("expected ')'")
                self.pos += 1
                last = [self.new_rule(alts)]
                seq.extend(last)
            elif c and (c.isalnum() or c in "-_"):
                name = self.name()
                rid = self.rule_id(name)
                self.used.setdefault(rid, name)
                last = [rid]
                seq.extend(last)
            elif c in ("*", "+", "?", "{"):
                if not last:
                    raise self.error(f"{c!r} follows nothing")
                del seq[len(seq) - len(last) :]
                seq.extend(self.repeat(tuple(last)))
                last = []
            else:
                break
            self.space(nested)
        return tuple(seq)

    def repeat(self, item: tuple[Element, ...]) -> list[Element]:
        c = self.peek()
        self.pos += 1
        if c == "*":
            return [self.star(item)]
        if c == "+":
            return [*item, self.star(item)]
        if c == "?":
            return [self.new_rule([item, ()])]
        lo_s, hi_s, comma = "", "", False
        while self.peek() != "}":
            ch = self.peek()
            if not ch:
                raise self.error("unterminated {m,n}")
            if ch == ",":
                comma = True
            elif ch.isdigit():
                if comma:
                    hi_s += ch
                else:
                    lo_s += ch
            elif ch != " ":
                raise self.error("bad repetition {m,n}")
            self.pos += 1
        self.pos += 1
        lo = int(lo_s or 0)
        hi: int | None = (int(hi_s) if hi_s else None) if comma else lo
        if hi is not None and hi < lo:
            raise self.error(f"repetition {{{lo},{hi}}} has max < min")
        out: list[Element] = list(item) * lo
        if hi is None:
            out.append(self.star(item))
        else:
            tail: int | None = None
            for _ in range(hi - lo):
                body = item + ((tail,) if tail is not None else ())
                tail = self.new_rule([body, ()])
            if tail is not None:
                out.append(tail)
        return out

    def star(self, item: tuple[Element, ...]) -> int:
        rid = self.new_rule([])
        self.rules[rid] = [(*item, rid), ()]
        return rid

    def char(self) -> int:
        c = self.src[self.pos]
        if c != "\\":
            self.pos += 1
            return ord(c)
        esc = self.src[self.pos + 1 : self.pos + 2]
        simple = {"n": 10, "r": 13, "t": 9, "\\": 92, '"': 34, "[": 91, "]": 93, "-": 45,
                  "/": 47, "^": 94}
        if esc in simple:
            self.pos += 2
            return simple[esc]
        width = {"x": 2, "u": 4, "U": 8}.get(esc)
        if width is None:
            raise self.error(f"unknown escape \\{esc}")
        digits = self.src[self.pos + 2 : self.pos + 2 + width]
        try:
            value = int(digits, 16)
        except ValueError:
            raise self.error(f"bad escape \\{esc}{digits}") from None
        self.pos += 2 + width
        return value


class Grammar:
    """A parsed GBNF grammar and its character-level matcher (see the module docstring)."""

    def __init__(self, rules: list[list[tuple[Element, ...]]], root: int, text: str) -> None:
        self.rules = rules
        self.root = root
        self.text = text
        self._expand_cache: dict[Stack, frozenset[Stack]] = {}
        self._step_cache: dict[tuple[Stacks, str], Stacks] = {}
        self.start: Stacks = self._expand_all(
            [((root, a, 0),) if alt else () for a, alt in enumerate(rules[root])]
        )

    @classmethod
    def parse(cls, text: str, root: str = "root") -> Grammar:
        """Parse GBNF ``text``; ``ConfigError`` names a syntax error or an undefined rule."""
        return _parse_cached(text, root)

    # ---------------------------------------------------------------- stacks

    def _expand(self, stack: Stack, depth: int = 0) -> frozenset[Stack]:
        """Stacks equal to ``stack`` with rule references at the top replaced by their
        alternatives, until each top is a character set (or the stack is empty: complete)."""
        hit = self._expand_cache.get(stack)
        if hit is not None:
            return hit
        if depth > 200:
            raise ConfigError("grammar: a rule is left-recursive (refers to itself before "
                              "matching any character): rewrite it with * or +")
        if not stack:
            out: frozenset[Stack] = frozenset({()})
        else:
            rule, alt, i = stack[-1]
            elem = self.rules[rule][alt][i]
            if isinstance(elem, CharSet):
                out = frozenset({stack})
            else:
                rest = _after(stack, self.rules)
                acc: set[Stack] = set()
                for a, body in enumerate(self.rules[elem]):
                    nxt = (*rest, (elem, a, 0)) if body else rest
                    acc |= self._expand(nxt, depth + 1)
                out = frozenset(acc)
        if len(self._expand_cache) > 200_000:
            self._expand_cache.clear()
        self._expand_cache[stack] = out
        return out

    def _expand_all(self, stacks: Iterable[Stack]) -> Stacks:
        acc: set[Stack] = set()
        for s in stacks:
            acc |= self._expand(s)
        return frozenset(acc)

    def step(self, stacks: Stacks, ch: str) -> Stacks:
        """The stacks after matching character ``ch`` (empty: ``ch`` is not allowed)."""
        key = (stacks, ch)
        hit = self._step_cache.get(key)
        if hit is not None:
            return hit
        cp = ord(ch)
        nxt: list[Stack] = []
        for s in stacks:
            if not s:
                continue
            rule, alt, i = s[-1]
            cs = self.rules[rule][alt][i]
            if isinstance(cs, CharSet) and cp in cs:
                nxt.append(_after(s, self.rules))
        out = self._expand_all(nxt)
        if len(self._step_cache) > 500_000:
            self._step_cache.clear()
        self._step_cache[key] = out
        return out

    def advance(self, stacks: Stacks, text: str) -> Stacks:
        for ch in text:
            stacks = self.step(stacks, ch)
            if not stacks:
                break
        return stacks

    def next_sets(self, stacks: Stacks) -> list[CharSet]:
        """The character sets that may come next."""
        out = []
        for s in stacks:
            if s:
                rule, alt, i = s[-1]
                cs = self.rules[rule][alt][i]
                if isinstance(cs, CharSet):
                    out.append(cs)
        return out

    @staticmethod
    def complete(stacks: Stacks) -> bool:
        return () in stacks

    def matches(self, text: str) -> bool:
        """Whether the whole of ``text`` is a sentence of the grammar."""
        return self.complete(self.advance(self.start, text))

    def prefix_ok(self, text: str) -> bool:
        """Whether ``text`` can be continued into a sentence of the grammar."""
        return bool(self.advance(self.start, text))


def _after(stack: Stack, rules: Sequence[Sequence[tuple[Element, ...]]]) -> Stack:
    """``stack`` with its top element consumed (finished rules popped)."""
    rule, alt, i = stack[-1]
    if i + 1 < len(rules[rule][alt]):
        return (*stack[:-1], (rule, alt, i + 1))
    # a finished rule is popped: the position below was saved already past its reference
    return stack[:-1]


@lru_cache(maxsize=64)
def _parse_cached(text: str, root: str) -> Grammar:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("grammar: the grammar is empty: give GBNF rules, e.g. root ::= \"yes\"")
    p = _Parser(text)
    p.parse()
    for rid, name in p.used.items():
        if p.rules[rid] is None:
            raise ConfigError(f"grammar: rule {name!r} is used but never defined: add "
                              f"`{name} ::= ...`")
    if root not in p.names:
        raise ConfigError(f"grammar: no {root!r} rule: the grammar must start from "
                          f"`{root} ::= ...`")
    rules = [r if r is not None else [()] for r in p.rules]
    return Grammar(rules, p.names[root], text)


# ------------------------------------------------------------------ tokens


class Vocabulary:
    """What the constraint needs to know about a model's tokens: their bytes, their text and
    the first code point of each (``-1`` for control tokens and partial UTF-8)."""

    def __init__(self, pieces: Sequence[bytes], eog_ids: Iterable[int]) -> None:
        self.pieces = list(pieces)
        self.eog = frozenset(eog_ids)
        self.texts: list[str | None] = []
        first = np.full(len(self.pieces), -1, dtype=np.int64)
        for i, p in enumerate(self.pieces):
            try:
                t = p.decode("utf-8")
            except UnicodeDecodeError:
                t = None
            self.texts.append(t)
            if t:
                first[i] = ord(t[0])
        self.first = first
        self.partial = np.array([t is None and bool(p) for t, p in
                                 zip(self.texts, self.pieces, strict=True)], dtype=bool)

    @classmethod
    def of(cls, size: int, piece: Callable[[int], bytes], eog_ids: Iterable[int]) -> Vocabulary:
        return cls([piece(i) for i in range(size)], eog_ids)


class TokenConstraint:
    """Per-generation grammar state over a ``Vocabulary``: ``mask(logits)`` before choosing a
    token, ``accept(token)`` after. Only the ``keep`` most probable allowed tokens stay
    (greedy needs one; sampling draws among them)."""

    PROBE = 512

    def __init__(self, grammar: Grammar, vocab: Vocabulary, *, keep: int = 8) -> None:
        self.grammar = grammar
        self.vocab = vocab
        self.keep = max(1, keep)
        self.stacks = grammar.start
        self.pending = b""

    @property
    def complete(self) -> bool:
        return not self.pending and Grammar.complete(self.stacks)

    def _try(self, token_id: int) -> tuple[Stacks, bytes] | None:
        v = self.vocab
        piece = v.pieces[token_id]
        if not piece:
            return None
        text = v.texts[token_id] if not self.pending else None
        rest = b""
        if text is None:
            dec = codecs.getincrementaldecoder("utf-8")("strict")
            try:
                text = dec.decode(self.pending + piece, final=False)
            except UnicodeDecodeError:
                return None
            rest = dec.getstate()[0]
        stacks = self.grammar.advance(self.stacks, text)
        if not stacks:
            return None
        if rest and not any(cs.allows_non_ascii for cs in self.grammar.next_sets(stacks)):
            return None
        return stacks, rest

    def mask(self, logits: np.ndarray) -> np.ndarray:
        """``logits`` with every forbidden token set to ``-inf``."""
        x = np.asarray(logits, dtype=np.float32)
        v = self.vocab
        if self.pending:
            cand = np.flatnonzero(np.array([bool(p) for p in v.pieces]))
        else:
            ok = v.partial.copy()
            sets = self.grammar.next_sets(self.stacks)
            if not any(cs.allows_non_ascii for cs in sets):
                ok[:] = False
            for cs in sets:
                ok |= cs.mask(v.first)
            cand = np.flatnonzero(ok)
        allowed: list[int] = []
        if len(cand):
            vals = x[cand]
            n = min(self.PROBE, len(cand))
            head = np.argpartition(-vals, n - 1)[:n] if n < len(cand) else np.arange(len(cand))
            head = head[np.argsort(-vals[head], kind="stable")]
            for order in (head, None):
                if order is None:
                    if allowed or n == len(cand):
                        break
                    rest = np.setdiff1d(np.arange(len(cand)), head, assume_unique=True)
                    order = rest[np.argsort(-vals[rest], kind="stable")]
                for j in order:
                    t = int(cand[j])
                    if self._try(t) is not None:
                        allowed.append(t)
                        if len(allowed) >= self.keep:
                            break
                if len(allowed) >= self.keep:
                    break
        if self.complete:
            allowed.extend(v.eog)
        if not allowed:
            raise GenerationError(
                "the grammar allows no token of this model here: check that the grammar can be "
                "completed (every rule reachable and finite)"
            )
        out = np.full_like(x, -np.inf)
        idx = np.asarray(sorted(set(allowed)), dtype=np.int64)
        out[idx] = x[idx]
        return out

    def accept(self, token_id: int) -> None:
        """Advance the grammar over the chosen token."""
        if token_id in self.vocab.eog:
            return
        got = self._try(token_id)
        if got is None:
            raise GenerationError(f"token {token_id} is not allowed by the grammar here")
        self.stacks, self.pending = got


__all__ = ["CharSet", "Grammar", "TokenConstraint", "Vocabulary"]
