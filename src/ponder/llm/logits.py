"""``LogitsGenerator``: the shared decoding loop for backends that expose next-token logits.

A backend (llama.cpp, transformers, the toy table model) implements a handful of primitives:
tokenizing, evaluating the prompt (``_prefill``), feeding one token (``_advance``), running
several hypotheses at once for beam search (``_beam_session``) and scoring continuations
(``_continuation_logits``). Greedy, sampling, beam search, stochastic beams, stop strings,
explain traces, context-window checks, truncation and grammar-constrained decoding
(``json_schema=`` / ``grammar=``, see ``ponder.llm.grammar``) are then the same on every backend.

>>> from ponder.llm.fake import ToyLanguageModel
>>> g = ToyLanguageModel()
>>> g.complete("the", max_new_tokens=3).text
' cat sat'
>>> g.complete("the", strategy="beam", num_beams=2, max_new_tokens=3).text
' dog barked'
"""

from __future__ import annotations

import codecs
import time
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import numpy as np

from ponder.errors import ContextLengthError
from ponder.llm.base import Generator, Message, StreamInfo, Token
from ponder.llm.beam import BeamModel, beam_search
from ponder.llm.config import GenerationConfig
from ponder.llm.decoding import Decoder, log_softmax
from ponder.llm.grammar import TokenConstraint, Vocabulary
from ponder.llm.structured import grammar_for


class LogitsGenerator(Generator):
    """Base for backends that give logits; see the module docstring for the primitives."""

    supports_logprobs = True
    supports_beam = True
    supports_explain = True
    supports_grammar = True

    # ------------------------------------------------------------ backend primitives

    @property
    @abstractmethod
    def eog_ids(self) -> frozenset[int]:
        """Token ids that end a sequence (end-of-sequence, end-of-turn)."""

    @abstractmethod
    def _encode(self, prompt: str | list[Message]) -> list[int]:
        """Token ids of a prompt: raw text as is, messages through the chat template; with the
        beginning-of-sequence token where the model wants one; special tokens parsed."""

    @abstractmethod
    def _encode_text(self, text: str) -> list[int]:
        """Token ids of plain text: no BOS, special-token text kept as text."""

    @abstractmethod
    def _piece(self, token_id: int) -> bytes:
        """The bytes a token stands for (control tokens: empty)."""

    @abstractmethod
    def _prefill(self, ids: list[int], info: StreamInfo) -> np.ndarray:
        """Evaluate the prompt (reusing any cached prefix; set ``info.cached_tokens``) and
        return the logits for the next token."""

    @abstractmethod
    def _advance(self, token_id: int) -> np.ndarray:
        """Feed one generated token; return the logits for the next one."""

    @abstractmethod
    def _beam_session(
        self, n_prompt: int, num_beams: int, first_logits: np.ndarray
    ) -> AbstractContextManager[BeamModel]:
        """A ``BeamModel`` over the prompt just prefilled; cleans its caches on exit."""

    @abstractmethod
    def _continuation_logits(
        self, prompt_ids: list[int], continuations: list[list[int]]
    ) -> list[np.ndarray]:
        """For each continuation ``c``, the ``(len(c), V)`` logits that predict its tokens."""

    def _beam_capacity(self, n_prompt: int, num_beams: int) -> int:
        """How many beam steps fit the caches (llama.cpp stores one cell per beam token)."""
        return self.context_window - n_prompt

    # ------------------------------------------------------------ shared helpers

    def token_text(self, token_id: int) -> str:
        return self._piece(token_id).decode("utf-8", errors="replace")

    def detokenize(self, ids: Sequence[int]) -> str:
        return b"".join(self._piece(t) for t in ids).decode("utf-8", errors="replace")

    def tokenize(self, text: str) -> list[tuple[int, str]]:
        return [(t, self.token_text(t)) for t in self._encode_text(text)]

    def count_tokens(self, text: str) -> int:
        return len(self._encode_text(text))

    def prompt_token_ids(self, prompt: str | list[Message]) -> list[int]:
        """The exact token ids the model will read for a prepared prompt."""
        return self._encode(prompt)

    # ------------------------------------------------------------ context window

    def _fit(self, prompt: str | list[Message], config: GenerationConfig) -> list[int]:
        ids = self._encode(prompt)
        window = self.context_window
        new = config.max_new_tokens
        if len(ids) + new <= window:
            return ids
        if config.truncate is None:
            what = (
                f"the prompt is {len(ids)} tokens, longer than the context window of {window}"
                if len(ids) >= window
                else f"the prompt is {len(ids)} tokens + max_new_tokens {new} = "
                f"{len(ids) + new}, more than the context window of {window}"
            )
            raise ContextLengthError(
                f"{what} tokens of model {self.model_id!r}: shorten the prompt, lower "
                "max_new_tokens, or truncate it (truncate='left'|'right', --truncate left|right)"
            )
        budget = window - new
        if budget < 1:
            raise ContextLengthError(
                f"max_new_tokens={new} leaves no room for a prompt in the context window of "
                f"{window} tokens: lower max_new_tokens"
            )
        if isinstance(prompt, str):
            return self._cut(ids, budget, config.truncate)
        return self._truncate_messages(prompt, ids, budget, config.truncate)

    def _cut(self, ids: list[int], budget: int, side: str | None) -> list[int]:
        head = ids[:1] if ids and self._keeps_first(ids[0]) else []
        body = ids[len(head) :]
        keep = budget - len(head)
        return head + (body[-keep:] if side == "left" else body[:keep])

    def _keeps_first(self, token_id: int) -> bool:
        return not self._piece(token_id)  # a leading control token such as BOS

    def _truncate_messages(
        self, messages: list[Message], ids: list[int], budget: int, side: str | None
    ) -> list[int]:
        users = [i for i, m in enumerate(messages) if m.role == "user"]
        idx = users[-1] if users else len(messages) - 1
        content = self._encode_text(messages[idx].content)
        for margin in (0, 4, 16, 64):
            over = len(ids) - budget + margin
            if over >= len(content):
                break
            kept = content[over:] if side == "left" else content[: len(content) - over]
            trial = list(messages)
            trial[idx] = Message(messages[idx].role, self.detokenize(kept))
            new_ids = self._encode(trial)
            if len(new_ids) <= budget:
                return new_ids
        raise ContextLengthError(
            f"the prompt is {len(ids)} tokens and cannot be truncated to fit the context window "
            f"of {self.context_window} tokens with max_new_tokens={self.context_window - budget}:"
            " the other messages alone are too long; shorten them or lower max_new_tokens"
        )

    # ------------------------------------------------------------ generation

    def _stream(
        self, prompt: str | list[Message], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        ids = self._fit(prompt, config)  # errors here come before any decoding
        info.prompt_tokens = len(ids)
        if config.strategy == "beam":
            return self._beam_tokens(ids, config, info)
        return self._sampled_tokens(ids, config, info)

    def _constraint(self, config: GenerationConfig, n_vocab: int) -> TokenConstraint | None:
        """The grammar mask for ``config.json_schema`` / ``config.grammar`` (``None`` without
        them). The model's token table is read once per instance."""
        if config.json_schema is None and config.grammar is None:
            return None
        grammar = grammar_for(schema=config.json_schema, grammar=config.grammar)
        vocab = self.__dict__.get("_grammar_vocab")
        if vocab is None or len(vocab.pieces) != n_vocab:
            vocab = Vocabulary.of(n_vocab, self._piece, self.eog_ids)
            self.__dict__["_grammar_vocab"] = vocab
        return TokenConstraint(grammar, vocab, keep=64 if config.samples else 8)

    def _timed_prefill(self, ids: list[int], info: StreamInfo) -> np.ndarray:
        t0 = time.perf_counter()
        logits = self._prefill(ids, info)
        info.prompt_seconds = time.perf_counter() - t0
        return logits

    def _sampled_tokens(
        self, ids: list[int], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        logits = self._timed_prefill(ids, info)
        eog = self.eog_ids
        decoder = Decoder(
            config, history=ids, exempt=eog, trace=info.trace, token_text=self.token_text
        )
        constraint = self._constraint(config, len(logits))
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        n_max = config.max_new_tokens
        for i in range(n_max):
            if constraint is not None:
                logits = constraint.mask(logits)
            choice = decoder.choose(logits)
            tok = choice.token_id
            if tok in eog:
                info.finish_reason = "stop"
                tail = utf8.decode(b"", final=True)
                if tail:
                    yield Token(tail)
                return
            decoder.accept(tok)
            if constraint is not None:
                constraint.accept(tok)
            yield Token(utf8.decode(self._piece(tok)), tok, choice.logprob)
            if i + 1 < n_max:
                logits = self._advance(tok)
        info.finish_reason = "length"

    def _beam_tokens(
        self, ids: list[int], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        logits = self._timed_prefill(ids, info)
        beams = config.num_beams or 1
        capacity = self._beam_capacity(len(ids), beams)
        steps = min(config.max_new_tokens, capacity)
        if steps < 1:
            raise ContextLengthError(
                f"beam search with {beams} beams needs room for {beams} cache cells per step: "
                f"the prompt ({len(ids)} tokens) leaves none in {self.context_window}"
            )
        with self._beam_session(len(ids), beams, logits) as model:
            result = beam_search(
                model,
                config,
                is_eog=self.eog_ids.__contains__,
                max_steps=steps,
                history=ids,
                exempt=tuple(self.eog_ids),
                token_text=self.token_text,
                trace=info.trace,
            )
        if steps < config.max_new_tokens and info.trace is not None:
            info.trace.note = (
                f"beam search stopped after {steps} steps: {beams} beams filled the cache"
            )
        info.finish_reason = result.finish_reason
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        for tok, lp in zip(result.tokens, result.logprobs, strict=True):
            yield Token(utf8.decode(self._piece(tok)), tok, lp)
        tail = utf8.decode(b"", final=True)
        if tail:
            yield Token(tail)

    # ------------------------------------------------------------ scoring

    def _logprobs(self, prompt: str | list[Message], continuations: list[str]) -> list[float]:
        ids = self._encode(prompt)
        conts = [self._encode_text(c) for c in continuations]
        longest = max(len(c) for c in conts)
        if len(ids) + longest > self.context_window:
            raise ContextLengthError(
                f"the prompt ({len(ids)} tokens) plus the longest continuation ({longest}) is "
                f"more than the context window of {self.context_window} tokens: shorten them"
            )
        rows = self._continuation_logits(ids, conts)
        out = []
        for c, r in zip(conts, rows, strict=True):
            lp = log_softmax(np.asarray(r))
            out.append(float(lp[np.arange(len(c)), c].sum()))
        return out


__all__ = ["LogitsGenerator"]
