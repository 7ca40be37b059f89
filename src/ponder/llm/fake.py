"""Generators that need no model, for tests (yours and ours) and demos.

- ``ScriptedGenerator``: replies from a script (a list cycled in order, a ``{substring:
  reply}`` map, or a function), streamed word by word; scripted log-probabilities.
- ``ToyLanguageModel``: a tiny bigram language model given as a probability table. It runs
  through the same decoding code as llama.cpp (greedy, sampling, beam search, explain), so
  decoding strategies can be shown and tested exactly. Its default table makes greedy
  myopic: greedy says "the cat sat" (p = 0.55 × 0.36), beam search finds "the dog barked"
  (p = 0.45 × 0.9).

>>> g = ScriptedGenerator({"France": "Paris.", "Italy": "Rome."})
>>> g.complete("Capital of Italy?").text
'Rome.'
>>> g.logprobs("Capital of Italy?", ["Rome", "Paris"])
[-0.1, -5.0]
>>> ToyLanguageModel().complete("the", max_new_tokens=5).text
' cat sat'
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np

from ponder.errors import ConfigError, GenerationError
from ponder.llm.base import Generator, Message, StreamInfo, Token
from ponder.llm.config import GenerationConfig
from ponder.llm.logits import LogitsGenerator
from ponder.llm.structured import grammar_for

_WORDS = re.compile(r"\s*\S+|\s+")
Script = Sequence[str] | Mapping[str, str] | Callable[[str], str] | None


class ScriptedGenerator(Generator):
    """Deterministic scripted replies; no model.

    ``replies``: a list (used in turn, cycling), a mapping (the first key found in the prompt
    picks the reply; ``default`` otherwise) or a function of the prompt text. ``logprobs``: a
    mapping ``{continuation: logprob}`` or a function ``(prompt_text, continuation) ->
    logprob``; without it a continuation scores -0.1 per word when the scripted reply starts
    with it and -5 per word otherwise. ``calls`` records every prompt received. Under a
    ``json_schema`` or ``grammar`` the reply must match it (else ``GenerationError``).
    """

    model_id = "scripted"
    supports_logprobs = True
    supports_beam = True
    supports_grammar = True

    def __init__(
        self,
        replies: Script = None,
        *,
        default: str = "This is a scripted reply.",
        logprobs: Mapping[str, float] | Callable[[str, str], float] | None = None,
        context_window: int = 4096,
        model_id: str = "scripted",
    ) -> None:
        self.replies = replies
        self.default = default
        self.scores = logprobs
        self.context_window = context_window
        self.model_id = model_id
        self.calls: list[str | list[Message]] = []
        self._cycle: Iterator[str] | None = None
        if isinstance(replies, Sequence) and not isinstance(replies, str):
            if not replies:
                raise ConfigError("ScriptedGenerator needs at least one reply")
            self._cycle = itertools.cycle(list(replies))
        elif isinstance(replies, str):
            self._cycle = itertools.cycle([replies])

    def _text(self, prompt: str | list[Message]) -> str:
        return prompt if isinstance(prompt, str) else self.render_messages(prompt)

    def reply_for(self, prompt: str | list[Message], *, advance: bool = True) -> str:
        """The scripted reply for ``prompt`` (a list script moves on only when ``advance``)."""
        text = self._text(prompt)
        if self._cycle is not None:
            if not advance:
                self._cycle, peek = itertools.tee(self._cycle)
                return next(peek)
            return next(self._cycle)
        if isinstance(self.replies, Mapping):
            for key, reply in self.replies.items():
                if key in text:
                    return reply
            return self.default
        if callable(self.replies):
            return str(self.replies(text))
        return self.default

    def _stream(
        self, prompt: str | list[Message], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        self.calls.append(prompt)
        reply = self.reply_for(prompt)
        if config.json_schema is not None or config.grammar is not None:
            grammar = grammar_for(schema=config.json_schema, grammar=config.grammar)
            if not grammar.matches(reply):
                raise GenerationError(
                    f"the scripted reply {reply[:60]!r} does not match the requested "
                    f"{'JSON schema' if config.grammar is None else 'grammar'}: script a "
                    "reply the constraint allows"
                )
        info.prompt_tokens = len(self.tokenize(self._text(prompt)))
        info.prompt_seconds = 0.0
        return self._words(reply, config, info)

    def _words(self, reply: str, config: GenerationConfig, info: StreamInfo) -> Iterator[Token]:
        words = _WORDS.findall(reply)
        for i, w in enumerate(words):
            if i >= config.max_new_tokens:
                info.finish_reason = "length"
                return
            yield Token(w, _word_id(w), None)
        info.finish_reason = "stop"

    def _logprobs(self, prompt: str | list[Message], continuations: list[str]) -> list[float]:
        text = self._text(prompt)
        if callable(self.scores):
            return [float(self.scores(text, c)) for c in continuations]
        if isinstance(self.scores, Mapping):
            return [float(self.scores.get(c, -10.0)) for c in continuations]
        reply = self.reply_for(prompt, advance=False).strip()
        out = []
        for c in continuations:
            n = max(1, len(c.split()))
            out.append(round((-0.1 if reply.startswith(c.strip()) else -5.0) * n, 6))
        return out

    def tokenize(self, text: str) -> list[tuple[int, str]]:
        return [(_word_id(w), w) for w in _WORDS.findall(text)]


def _word_id(word: str) -> int:
    return zlib.crc32(word.encode("utf-8")) % 50_000


DEFAULT_TABLE: dict[str, dict[str, float]] = {
    "<s>": {"the": 0.6, " a": 0.4},
    "the": {" cat": 0.55, " dog": 0.45},
    " a": {" cat": 0.5, " dog": 0.5},
    " cat": {" sat": 0.36, " ran": 0.34, "<eos>": 0.30},
    " dog": {" barked": 0.9, "<eos>": 0.1},
    " sat": {"<eos>": 0.7, ".": 0.3},
    " ran": {"<eos>": 0.7, ".": 0.3},
    " barked": {"<eos>": 0.8, ".": 0.2},
    ".": {"<eos>": 1.0},
}


class ToyLanguageModel(LogitsGenerator):
    """A bigram language model from a table ``{previous token: {next token: probability}}``.

    Tokens are words with their leading whitespace (``" cat"``); ``"<s>"`` is the context
    before the first token and ``"<eos>"`` ends a sequence; unknown words map to ``"<unk>"``,
    after which the model ends. No chat template: prompts are raw text.
    """

    has_chat_template = False

    def __init__(
        self,
        table: Mapping[str, Mapping[str, float]] | None = None,
        *,
        context_window: int = 512,
        model_id: str = "toy",
    ) -> None:
        table = DEFAULT_TABLE if table is None else table
        vocab = ["<eos>", "<unk>", "<s>"]
        for ctx, row in table.items():
            for tok in (ctx, *row):
                if tok not in vocab:
                    vocab.append(tok)
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}
        probs = np.full((len(vocab), len(vocab)), 0.0)
        probs[:, 0] = 1.0  # unknown contexts end the sequence
        for ctx, row in table.items():
            total = sum(row.values())
            if total <= 0 or any(p < 0 for p in row.values()):
                raise ConfigError(f"toy table row {ctx!r} needs non-negative probabilities")
            probs[self.ids[ctx]] = 0.0
            for tok, p in row.items():
                probs[self.ids[ctx], self.ids[tok]] = p / total
        with np.errstate(divide="ignore"):
            self.logits = np.log(probs + 1e-9).astype(np.float32)
        self.context_window = context_window
        self.model_id = model_id
        self._state: list[int] = []

    @property
    def eog_ids(self) -> frozenset[int]:
        return frozenset({0})

    def _encode(self, prompt: str | list[Message]) -> list[int]:
        text = prompt if isinstance(prompt, str) else self.render_messages(prompt)
        return [self.ids["<s>"], *self._encode_text(text)]

    def _encode_text(self, text: str) -> list[int]:
        return [self.ids.get(w, 1) for w in _WORDS.findall(text)]

    def _piece(self, token_id: int) -> bytes:
        tok = self.vocab[token_id]
        return b"" if tok in ("<eos>", "<s>") else tok.encode("utf-8")

    def _row(self, token_id: int) -> np.ndarray:
        return self.logits[token_id]

    def _prefill(self, ids: list[int], info: StreamInfo) -> np.ndarray:
        n = 0
        for a, b in zip(self._state, ids, strict=False):
            if a != b:
                break
            n += 1
        info.cached_tokens = min(n, len(ids) - 1)
        self._state = list(ids)
        return self._row(ids[-1])

    def _advance(self, token_id: int) -> np.ndarray:
        self._state.append(token_id)
        return self._row(token_id)

    @contextmanager
    def _beam_session(
        self, n_prompt: int, num_beams: int, first_logits: np.ndarray
    ) -> Iterator[_ToyBeams]:
        yield _ToyBeams(self, first_logits)

    def _continuation_logits(
        self, prompt_ids: list[int], continuations: list[list[int]]
    ) -> list[np.ndarray]:
        return [np.stack([self._row(t) for t in [prompt_ids[-1], *c[:-1]]]) for c in continuations]

    def sequence_logprob(self, prompt: str, text: str) -> float:
        """Total log-probability of ``text`` (then end-of-sequence) after ``prompt``."""
        ids = self._encode(prompt)
        cont = self._encode_text(text)
        total, prev = 0.0, ids[-1]
        for t in [*cont, 0]:
            total += float(self.logits[prev, t])
            prev = t
        return total if math.isfinite(total) else float("-inf")


class _ToyBeams:
    def __init__(self, model: ToyLanguageModel, first: np.ndarray) -> None:
        self.model = model
        self.first = first

    def start(self) -> np.ndarray:
        return self.first

    def step(self, parents: Sequence[int], tokens: Sequence[int]) -> np.ndarray:
        return np.stack([self.model._row(t) for t in tokens])


__all__ = ["DEFAULT_TABLE", "ScriptedGenerator", "ToyLanguageModel"]
