"""``GenerationConfig``: how to decode, validated before any work is done.

Strategies (search and sampling):

- ``greedy``: take the most probable token at each step (deterministic).
- ``beam``: keep the ``num_beams`` most probable partial sequences; the winner maximises the
  total log-probability divided by ``length ** length_penalty``. With ``sample_beams=True`` the
  beams are *sampled* instead of taken greedily (stochastic beam search, Hugging Face's
  "beam sample"), using ``temperature``/``top_k``/``top_p``.
- ``sample``: draw from the distribution reshaped by ``temperature``, ``top_k`` and ``top_p``
  (they combine: top-k first, then top-p over what is left). ``seed`` makes it repeatable.
  ``strategy="sample"`` with ``num_beams > 1`` means stochastic beam search too.

``repetition_penalty`` (> 1 discourages repeats, the CTRL / Hugging Face rule) applies to every
strategy. ``stop`` strings end the text (they are not included in it).

>>> GenerationConfig(strategy="sample", temperature=0.7, top_p=0.9, seed=1).validate().top_p
0.9
>>> GenerationConfig(top_p=1.5).validate()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: top_p=1.5 is outside (0, 1]: use a value such as 0.9 (1 keeps ...
>>> GenerationConfig(strategy="beam").validate().num_beams
4
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.errors import ConfigError

Strategy = Literal["greedy", "beam", "sample"]
STRATEGIES: tuple[str, ...] = ("greedy", "beam", "sample")
TRUNCATE_SIDES: tuple[str, ...] = ("left", "right")
DEFAULT_BEAMS = 4
MAX_BEAMS = 16


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. Safe defaults: greedy, 256 new tokens, no penalty, no stop strings.

    ``num_beams=None`` means 4 for ``strategy="beam"`` and 1 otherwise. ``top_k=0`` and
    ``top_p=1.0`` switch those filters off. ``truncate`` (``"left"`` or ``"right"``) cuts a
    prompt that does not fit the context window instead of raising ``ContextLengthError``;
    ``"left"`` keeps the end of the prompt. ``json_schema`` (a dict, JSON text or a ``.json``
    path) or ``grammar`` (GBNF text) constrains the output (``ponder.llm.structured``).
    """

    strategy: str = "greedy"
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    num_beams: int | None = None
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    sample_beams: bool = False
    truncate: str | None = None
    json_schema: Any = None
    grammar: str | None = None

    def replace(self, **changes: Any) -> GenerationConfig:
        """A copy with ``changes`` applied (``None`` values are ignored).

        >>> GenerationConfig().replace(max_new_tokens=8, seed=None).max_new_tokens
        8
        """
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"unknown generation option(s) {unknown}; known: {sorted(known)}"
            )
        values = {k: v for k, v in changes.items() if v is not None}
        if "stop" in values:
            stop = values["stop"]
            values["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        return dataclasses.replace(self, **values)

    def validate(self) -> GenerationConfig:
        """Check every field; return the *resolved* config (beams filled in, strategy settled).

        Raises ``ConfigError`` naming the bad value and a valid one.
        """
        strategy = str(self.strategy).lower().strip()
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"unknown strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}"
            )
        _check_number("temperature", self.temperature)
        if self.temperature < 0:
            raise ConfigError(
                f"temperature={self.temperature} is negative: use 0 (greedy) or more, e.g. 0.7"
            )
        _check_number("top_p", self.top_p)
        if not 0 < self.top_p <= 1:
            raise ConfigError(
                f"top_p={self.top_p} is outside (0, 1]: use a value such as 0.9 "
                "(1 keeps every token)"
            )
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise ConfigError(f"top_k={self.top_k!r} must be an integer >= 0 (0 switches it off)")
        if self.num_beams is not None and (
            not isinstance(self.num_beams, int) or self.num_beams < 1
        ):
            raise ConfigError(f"num_beams={self.num_beams!r} must be an integer >= 1")
        if self.num_beams is not None and self.num_beams > MAX_BEAMS:
            raise ConfigError(f"num_beams={self.num_beams} is more than {MAX_BEAMS}: use fewer")
        _check_number("repetition_penalty", self.repetition_penalty)
        if self.repetition_penalty <= 0:
            raise ConfigError(
                f"repetition_penalty={self.repetition_penalty} must be > 0 "
                "(1 = off, 1.1-1.3 discourages repeats)"
            )
        _check_number("length_penalty", self.length_penalty)
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens!r} must be an integer >= 1")
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if any(not isinstance(s, str) or not s for s in stop):
            raise ConfigError(f"stop={list(stop)!r}: stop strings must be non-empty strings")
        if self.seed is not None and not isinstance(self.seed, int):
            raise ConfigError(f"seed={self.seed!r} must be an integer")
        if self.truncate is not None and self.truncate not in TRUNCATE_SIDES:
            raise ConfigError(
                f"truncate={self.truncate!r}: use 'left' (keep the end) or 'right' (keep the start)"
            )
        beams = self.num_beams
        sample_beams = self.sample_beams
        schema, grammar = self.json_schema, self.grammar
        if schema is not None or grammar is not None:
            from ponder.llm.structured import check_schema, load_grammar

            if schema is not None and grammar is not None:
                raise ConfigError("give json_schema or grammar, not both")
            if strategy == "beam" or (beams or 1) > 1:
                raise ConfigError("json_schema/grammar constrain greedy or sampled decoding: "
                                  "use strategy 'greedy' or 'sample' (not beam search)")
            schema = check_schema(schema) if schema is not None else None
            grammar = load_grammar(grammar) if grammar is not None else None
        if strategy == "greedy" and beams is not None and beams > 1:
            raise ConfigError(
                f"num_beams={beams} needs strategy 'beam' (or 'sample' for stochastic beam "
                "search); greedy keeps one sequence"
            )
        if strategy == "sample" and beams is not None and beams > 1:
            strategy, sample_beams = "beam", True
        if strategy == "beam" and beams is None:
            beams = DEFAULT_BEAMS
        if strategy != "beam":
            beams, sample_beams = 1, False
        return dataclasses.replace(
            self, strategy=strategy, num_beams=beams, stop=stop, sample_beams=sample_beams,
            json_schema=schema, grammar=grammar,
        )

    @property
    def samples(self) -> bool:
        """True when decoding draws random numbers (``sample``, or sampled beams)."""
        return (self.strategy == "sample" or self.sample_beams) and self.temperature > 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stop"] = list(self.stop)
        if self.json_schema is None:
            d.pop("json_schema")
        if self.grammar is None:
            d.pop("grammar")
        return d


def _check_number(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number")
