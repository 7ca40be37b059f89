"""The one extension point for text generation: subclass ``Generator`` and implement ``_stream``.

Streaming is the primitive: ``generate`` returns a ``TokenStream`` (an iterator of ``Token``)
and ``complete`` collects it into a ``Completion``. Capabilities are class attributes, in the
style of simonw/llm: ``supports_logprobs``, ``supports_beam``, ``supports_explain``,
``context_window``, ``model_id``.

>>> from ponder.llm.fake import ScriptedGenerator
>>> g = ScriptedGenerator(["Paris is the capital."])
>>> c = g.complete("Capital of France?", stop=["."])
>>> c.text, c.finish_reason
('Paris is the capital', 'stop')
>>> [t.text for t in g.generate("again", max_new_tokens=2)]
['Paris', ' is']
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.errors import BackendUnavailableError, ConfigError, GenerationError, PonderError
from ponder.llm.config import GenerationConfig
from ponder.llm.explain import DecodingTrace

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat message. ``role`` is ``system``, ``user`` or ``assistant``."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"message role {self.role!r} is not one of {', '.join(ROLES)}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Token:
    """One generated token: its text (may be ``""`` while a multi-byte character is incomplete),
    its id in the model's vocabulary and its log-probability under the model (after any
    repetition penalty, before temperature), where the backend knows them."""

    text: str
    id: int | None = None
    logprob: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "id": self.id, "logprob": self.logprob}


@dataclass
class StreamInfo:
    """Filled in by a backend while it streams: prompt size, cache reuse, why it ended."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    prompt_seconds: float | None = None
    finish_reason: str | None = None
    trace: DecodingTrace | None = None


@dataclass
class Completion:
    """A finished generation.

    ``finish_reason`` is ``"stop"`` (end of sequence or a stop string) or ``"length"``
    (``max_new_tokens`` or the context window reached). ``tokens_per_second`` is the
    generation rate: completion tokens over the time after the prompt was processed.
    """

    text: str
    tokens: list[Token]
    finish_reason: str
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    time_to_first_token: float = 0.0
    prompt_seconds: float = 0.0
    total_seconds: float = 0.0
    model_id: str = ""
    config: GenerationConfig | None = None
    trace: DecodingTrace | None = None

    @property
    def completion_tokens(self) -> int:
        return len(self.tokens)

    @property
    def tokens_per_second(self) -> float:
        gen = self.total_seconds - self.prompt_seconds
        return self.completion_tokens / gen if gen > 0 and self.tokens else 0.0

    @property
    def logprob(self) -> float | None:
        """Total log-probability of the generated tokens (``None`` if the backend has none)."""
        if not self.tokens or any(t.logprob is None for t in self.tokens):
            return None
        return float(sum(t.logprob for t in self.tokens))  # type: ignore[misc]

    def json(self) -> Any:
        """The text parsed as JSON and checked against the config's ``json_schema`` (if any);
        ``GenerationError`` names the reason when it does not parse or validate."""
        from ponder.llm.structured import parse_json

        schema = self.config.json_schema if self.config else None
        return parse_json(self.text, schema, finish_reason=self.finish_reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tokens": [t.to_dict() for t in self.tokens],
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": round(self.tokens_per_second, 3),
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            "time_to_first_token": round(self.time_to_first_token, 4),
            "prompt_seconds": round(self.prompt_seconds, 4),
            "total_seconds": round(self.total_seconds, 4),
            "logprob": self.logprob,
            "model": self.model_id,
            "config": self.config.to_dict() if self.config else None,
        }


PromptLike = str | Sequence[Message] | Sequence[dict[str, str]]


class TokenStream(Iterator[Token]):
    """What ``Generator.generate`` returns: iterate it for tokens as they are decoded.

    Stop strings are applied here for every backend: text that could be the start of a stop
    string is held back until it is known not to be one. After the last token,
    ``finish_reason``, ``info`` and ``completion()`` describe the run; ``close()`` stops early.
    """

    def __init__(
        self, gen: Generator, inner: Iterator[Token], info: StreamInfo, config: GenerationConfig
    ) -> None:
        self._gen = gen
        self._inner = inner
        self.info = info
        self.config = config
        self._stops = tuple(config.stop)
        self._longest_stop = max((len(s) for s in self._stops), default=0)
        self._emitted = ""
        self._pending: list[Token] = []
        self._ready: list[Token] = []
        self._done = False
        self.tokens: list[Token] = []
        self._t0: float | None = None
        self._t_first: float | None = None
        self._t_end: float | None = None
        self.finish_reason: str | None = None

    @property
    def trace(self) -> DecodingTrace | None:
        return self.info.trace

    def __iter__(self) -> TokenStream:
        return self

    def __next__(self) -> Token:
        if self._t0 is None:
            self._t0 = time.perf_counter()
        while not self._ready:
            if self._done:
                raise StopIteration
            self._pull()
        tok = self._ready.pop(0)
        self.tokens.append(tok)
        return tok

    def _pull(self) -> None:
        try:
            tok = next(self._inner)
        except StopIteration:
            self._finish(self.info.finish_reason or "stop")
            self._ready.extend(self._pending)
            self._pending = []
            return
        except PonderError:
            self._finish("error")
            raise
        except Exception as e:
            self._finish("error")
            raise GenerationError(f"generation failed part-way: {e}") from e
        if self._t_first is None:
            self._t_first = time.perf_counter()
        if not self._stops:
            self._ready.append(tok)
            return
        self._pending.append(tok)
        pending_text = "".join(t.text for t in self._pending)
        window_start = max(0, len(self._emitted) - self._longest_stop + 1)
        full = self._emitted + pending_text
        hits = [i for s in self._stops if (i := full.find(s, window_start)) >= 0]
        if hits:
            cut = max(min(hits), len(self._emitted))
            self._release_until(cut, trim=True)
            self._finish("stop")
            close = getattr(self._inner, "close", None)
            if close:
                close()
            return
        hold = 0
        for s in self._stops:
            for k in range(min(len(s) - 1, len(full)), 0, -1):
                if full.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        self._release_until(len(full) - hold, trim=False)

    def _release_until(self, limit: int, *, trim: bool) -> None:
        """Move pending tokens whose text ends before ``limit`` (an offset into the whole text)
        to the ready queue; with ``trim`` the token that crosses ``limit`` is cut there."""
        pos = len(self._emitted)
        keep: list[Token] = []
        for i, tok in enumerate(self._pending):
            end = pos + len(tok.text)
            if end <= limit:
                self._ready.append(tok)
                self._emitted += tok.text
                pos = end
                continue
            if trim and pos < limit:
                cut = Token(tok.text[: limit - pos], tok.id, tok.logprob)
                self._ready.append(cut)
                self._emitted += cut.text
            keep = [] if trim else self._pending[i:]
            break
        self._pending = keep

    def _finish(self, reason: str) -> None:
        if not self._done:
            self._done = True
            self.finish_reason = reason
            self._t_end = time.perf_counter()
            self._gen._release()

    def close(self) -> None:
        """Stop generating now (the tokens so far stay in ``tokens``)."""
        close = getattr(self._inner, "close", None)
        if close:
            close()
        self._finish(self.finish_reason or "stop")

    def __del__(self) -> None:
        if not self._done:
            with contextlib.suppress(Exception):
                self.close()

    def completion(self) -> Completion:
        """Consume what is left and return the ``Completion``."""
        for _ in self:
            pass
        t0 = self._t0 or time.perf_counter()
        t_end = self._t_end or time.perf_counter()
        ttft = (self._t_first or t_end) - t0
        prompt_s = self.info.prompt_seconds
        if prompt_s is None:
            prompt_s = ttft
        return Completion(
            text="".join(t.text for t in self.tokens),
            tokens=list(self.tokens),
            finish_reason=self.finish_reason or "stop",
            prompt_tokens=self.info.prompt_tokens,
            cached_prompt_tokens=self.info.cached_tokens,
            time_to_first_token=ttft,
            prompt_seconds=min(prompt_s, t_end - t0),
            total_seconds=t_end - t0,
            model_id=self._gen.model_id,
            config=self.config,
            trace=self.info.trace,
        )


class Generator(ABC):
    """A text generator. Subclasses implement ``_stream`` and set their capabilities.

    ``_stream(prompt, config, info)`` receives either raw text (``str``: use it as is) or a list
    of ``Message`` (render it with the model's chat template), a validated config, and a
    ``StreamInfo`` to fill in (``prompt_tokens``, ``cached_tokens``, ``prompt_seconds``,
    ``finish_reason``; ``trace`` when it is not ``None`` and ``supports_explain``). It yields
    ``Token`` objects; stop strings are handled by the caller (``TokenStream``), but a backend
    may end early on its own end-of-sequence token or on ``config.max_new_tokens``.

    Constructors must be cheap; load models on first use. One generation runs at a time per
    instance (another thread waits; the same thread gets a ``GenerationError``).
    """

    model_id: str = ""
    context_window: int = 0
    supports_logprobs: bool = False
    supports_beam: bool = False
    supports_explain: bool = False
    supports_grammar: bool = False
    has_chat_template: bool = True

    _lock: threading.Lock
    _owner: int | None = None

    @abstractmethod
    def _stream(
        self, prompt: str | list[Message], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        """Yield the generated tokens for ``prompt`` under ``config``."""

    # ----------------------------------------------------------------- optional hooks

    def _logprobs(self, prompt: str | list[Message], continuations: list[str]) -> list[float]:
        raise ConfigError(
            f"model {self.model_id!r} cannot score continuations: use a llama.cpp or "
            "transformers model (e.g. the default 'smollm2')"
        )

    def tokenize(self, text: str) -> list[tuple[int, str]]:
        """``(id, text)`` for each token of ``text`` under the model's tokenizer."""
        raise BackendUnavailableError(
            f"model {self.model_id!r} does not expose its tokenizer: use a local model "
            "(llama.cpp GGUF or a transformers folder) to count tokens"
        )

    def count_tokens(self, text: str) -> int:
        """Tokens the model's tokenizer makes of ``text`` (no special tokens added)."""
        return len(self.tokenize(text))

    def render_messages(self, messages: Sequence[Message]) -> str:
        """The prompt text the model sees for ``messages`` (its chat template, ready for the
        assistant's reply). The default is a plain ``role: content`` transcript."""
        lines = [f"{m.role}: {m.content}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to free by default
        """Free the model's resources (a later call loads it again)."""

    # ------------------------------------------------------------------ public API

    def prepare_prompt(
        self, prompt: PromptLike, *, system: str | None = None, raw: bool = False
    ) -> str | list[Message]:
        """Normalise a prompt: a string becomes a user message (after an optional system
        message) unless ``raw`` or the model has no chat template; messages stay messages.

        >>> from ponder.llm.fake import ScriptedGenerator
        >>> ScriptedGenerator().prepare_prompt("Hi", system="Be brief.")
        [Message(role='system', content='Be brief.'), Message(role='user', content='Hi')]
        """
        if isinstance(prompt, str):
            if raw or not self.has_chat_template:
                if system:
                    return f"{system}\n\n{prompt}"
                return prompt
            msgs = [Message("system", system)] if system else []
            return [*msgs, Message("user", prompt)]
        if raw:
            raise ConfigError("raw=True needs a text prompt, not a list of messages")
        msgs = [m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in prompt]
        if not msgs:
            raise ConfigError("no messages to generate from: give at least one user message")
        if system and msgs[0].role != "system":
            msgs.insert(0, Message("system", system))
        return msgs

    def resolve_config(
        self, config: GenerationConfig | None = None, **overrides: Any
    ) -> GenerationConfig:
        """Merge ``overrides`` into ``config`` (or the defaults), validate, check capabilities."""
        cfg = (config or GenerationConfig()).replace(**overrides).validate()
        if cfg.strategy == "beam" and not self.supports_beam:
            raise ConfigError(
                f"model {self.model_id!r} does not support beam search: use strategy "
                "'greedy' or 'sample', or a local model (llama.cpp or transformers)"
            )
        if (cfg.json_schema is not None or cfg.grammar is not None) and not self.supports_grammar:
            raise ConfigError(
                f"model {self.model_id!r} cannot constrain its output to a schema or grammar: "
                "use a llama.cpp, transformers or OpenAI-compatible model"
            )
        return cfg

    def generate(
        self,
        prompt: PromptLike,
        config: GenerationConfig | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
        explain: bool = False,
        **overrides: Any,
    ) -> TokenStream:
        """Stream tokens for ``prompt``. Options are validated now, before any work.

        ``overrides`` are ``GenerationConfig`` fields (``max_new_tokens=32, seed=1, ...``).
        With ``explain=True`` the stream's ``trace`` records each decoding step.
        """
        cfg = self.resolve_config(config, **overrides)
        prepared = self.prepare_prompt(prompt, system=system, raw=raw)
        info = StreamInfo(trace=DecodingTrace(strategy=cfg.strategy) if explain else None)
        if explain and info.trace is not None and not self.supports_explain:
            info.trace.note = f"model {self.model_id!r} does not report decoding candidates"
        self._acquire()
        try:
            inner = self._stream(prepared, cfg, info)
        except BaseException:
            self._release()
            raise
        return TokenStream(self, inner, info, cfg)

    def complete(
        self,
        prompt: PromptLike,
        config: GenerationConfig | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
        explain: bool = False,
        **overrides: Any,
    ) -> Completion:
        """Generate and collect: text, tokens, tokens/s, finish reason, timings."""
        stream = self.generate(
            prompt, config, system=system, raw=raw, explain=explain, **overrides
        )
        return stream.completion()

    def complete_json(
        self,
        prompt: PromptLike,
        json_schema: Any,
        config: GenerationConfig | None = None,
        *,
        system: str | None = None,
        raw: bool = False,
        **overrides: Any,
    ) -> Any:
        """Generate under ``json_schema`` and return the parsed value, valid against it
        (``GenerationError`` when generation was cut before the JSON was complete).

        >>> from ponder.llm.fake import ScriptedGenerator
        >>> ScriptedGenerator(['{"city": "Paris"}']).complete_json(
        ...     "Where?", {"type": "object", "required": ["city"]})
        {'city': 'Paris'}
        """
        c = self.complete(prompt, config, system=system, raw=raw, json_schema=json_schema,
                          **overrides)
        return c.json()

    def chat(
        self,
        messages: Sequence[Message] | Sequence[dict[str, str]],
        config: GenerationConfig | None = None,
        **overrides: Any,
    ) -> Completion:
        """``complete`` for a list of messages (``Message`` or ``{"role", "content"}`` dicts)."""
        return self.complete(messages, config, **overrides)

    def logprobs(
        self,
        prompt: PromptLike,
        continuations: Sequence[str],
        *,
        system: str | None = None,
        raw: bool = False,
    ) -> list[float]:
        """Total log-probability of each continuation after ``prompt`` (natural log).

        The prompt is prepared as for ``generate`` (chat template unless ``raw``), so the
        continuations are scored as the start of the assistant's reply. Each continuation is
        tokenized on its own and appended to the prompt's tokens; include any leading space
        yourself (``" positive"``) for raw prompts.
        """
        if not continuations:
            return []
        if any(not isinstance(c, str) or not c for c in continuations):
            raise ConfigError("continuations must be non-empty strings")
        prepared = self.prepare_prompt(prompt, system=system, raw=raw)
        self._acquire()
        try:
            return self._logprobs(prepared, list(continuations))
        finally:
            self._release()

    # -------------------------------------------------------------------- locking

    def _acquire(self) -> None:
        lock = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_lock", threading.Lock())
        me = threading.get_ident()
        if lock.locked() and self._owner == me:
            raise GenerationError(
                f"model {self.model_id!r} is still busy with an unfinished generation in this "
                "thread: consume the previous stream or call its close() first"
            )
        lock.acquire()
        self._owner = me

    def _release(self) -> None:
        lock = self.__dict__.get("_lock")
        if lock is not None and lock.locked():
            self._owner = None
            lock.release()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_id={self.model_id!r})"


__all__ = [
    "Completion",
    "Generator",
    "Message",
    "PromptLike",
    "StreamInfo",
    "Token",
    "TokenStream",
]
