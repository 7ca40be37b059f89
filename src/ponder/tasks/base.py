"""``Task``: what every pipeline shares. A task is a callable over a string or a list of strings.

- ``model`` is a ``load_generator`` spec (``"smollm2"``, ``"path.gguf"``, ``"openai:URL#m"``...)
  or a ``Generator``; ``embedder`` a ``load_embedder`` name or an ``Embedder``. Both load
  lazily, on the first call that needs them, so constructing a pipeline is cheap.
- Decoding options (``GenerationConfig`` fields: ``strategy``, ``temperature``, ``top_k``,
  ``top_p``, ``num_beams``, ``repetition_penalty``, ``max_new_tokens``, ``stop``, ``seed``...)
  are accepted by every generative task, in the constructor or per call; scoring tasks
  (sentiment, classification) refuse them, since they decode nothing.
- A single string gives one result ``dict``; a list gives a list of them. ``iter_batch`` is the
  forgiving form for files: a bad item yields its error and the rest go on.

>>> from ponder.tasks import pipeline
>>> from ponder.llm.fake import ScriptedGenerator
>>> t = pipeline("translation", model=ScriptedGenerator(["Guten Morgen"]), target="de")
>>> t("Good morning")["translation"]
'Guten Morgen'
>>> [type(r).__name__ for _, r in t.iter_batch(["Good morning", ""])]
['dict', 'InputError']
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from ponder.errors import ConfigError, GenerationError, InputError, PonderError
from ponder.llm.base import Generator
from ponder.llm.config import GenerationConfig
from ponder.tasks.text import check_text

GENERATION_FIELDS = frozenset(f.name for f in dataclasses.fields(GenerationConfig))
Result = dict[str, Any]
ModelLike = str | Generator | None


class Task(ABC):
    """Base class of the task pipelines. Subclasses set ``task``, implement ``_run`` and call
    ``_remember(**their_options)`` in their constructor so that per-call overrides work."""

    task: ClassVar[str] = ""
    generative: ClassVar[bool] = False
    default_generation: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        *,
        model: ModelLike = None,
        embedder: Any = None,
        config: GenerationConfig | None = None,
        **generation: Any,
    ) -> None:
        unknown = sorted(set(generation) - GENERATION_FIELDS)
        if unknown:
            raise ConfigError(
                f"{self.task} has no option(s) {unknown}; its options are "
                f"{sorted(self._options)}"
                + (" plus the decoding options of GenerationConfig" if self.generative else "")
            )
        given = {k: v for k, v in generation.items() if v is not None}
        if (given or config is not None) and not self.generative:
            raise ConfigError(
                f"{self.task} scores labels by log-probability and generates no text: decoding "
                f"options {sorted(given) or ['config']} do not apply to it; remove them"
            )
        self._model: ModelLike = model
        self._embedder: Any = embedder
        self._base_config = config
        self._generation = given
        cfg = (config or GenerationConfig()).replace(**self.default_generation)
        self.config: GenerationConfig = cfg.replace(**given)
        self.config.validate()  # options are checked before any model loads
        self._options: dict[str, Any] = getattr(self, "_options", {})

    def _remember(self, **options: Any) -> None:
        """Record the subclass's own options (used by ``replace``)."""
        self._options = dict(options)

    # ------------------------------------------------------------ models, loaded lazily

    @property
    def generator(self) -> Generator:
        """The generator, loaded on first use."""
        if not isinstance(self._model, Generator):
            from ponder.llm import load_generator

            self._model = load_generator(self._model)
        return self._model

    @property
    def embedder(self) -> Any:
        """The embedder, loaded on first use (``ponder.embed.load_embedder``)."""
        from ponder.embed.base import Embedder

        if not isinstance(self._embedder, Embedder):
            from ponder.embed import load_embedder

            self._embedder = load_embedder(self._embedder)
        return self._embedder

    @property
    def model_id(self) -> str:
        """The generator's model id (loads nothing when the model is a spec string)."""
        if isinstance(self._model, Generator):
            return self._model.model_id
        return str(self._model or "default")

    def generation_config(self, **overrides: Any) -> GenerationConfig:
        """The decoding config for one call: task defaults, then the user's options."""
        user = dict(self._generation)
        if "stop" in overrides and "stop" in user:  # the task's stops and the user's, together
            theirs = (user.pop("stop"),) if isinstance(user.get("stop"), str) else user.pop("stop")
            overrides["stop"] = tuple(dict.fromkeys([*overrides["stop"], *theirs]))
        return self.config.replace(**overrides).replace(**user).validate()

    # ------------------------------------------------------------ calling

    def replace(self, **changes: Any) -> Task:
        """A copy with some options changed, sharing the loaded models.

        >>> from ponder.tasks import pipeline
        >>> s = pipeline("sentiment", method="llm", model="fake")
        >>> s.replace(labels="good,bad").labels
        ['good', 'bad']
        """
        params = {**self._options, **self._generation}
        params.update(changes)
        return type(self)(
            model=self._model, embedder=self._embedder, config=self._base_config, **params
        )

    def __call__(
        self,
        inputs: str | Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
        **overrides: Any,
    ) -> Result | list[Result]:
        """Run the task on one text (a ``dict``) or a list of texts (a list of ``dict``).

        Every text of a list is checked before any work, so an empty one fails fast with its
        position; use ``iter_batch`` to skip bad items instead.
        """
        task = self.replace(**overrides) if overrides else self
        if isinstance(inputs, str):
            return task._run(check_text(inputs))
        if not isinstance(inputs, Sequence):
            raise InputError(
                f"{self.task} takes a string or a list of strings, not {type(inputs).__name__}"
            )
        for i, text in enumerate(inputs):
            try:
                check_text(text)
            except InputError as e:
                raise InputError(f"input {i}: {e}") from None
        out: list[Result] = []
        for text in inputs:
            out.append(task._run(text))
            if progress:
                progress(1)
        return out

    def iter_batch(self, inputs: Sequence[str]) -> Iterator[tuple[int, Result | PonderError]]:
        """``(index, result)`` for each input, or ``(index, error)`` for an input that cannot be
        processed (empty text, too long for the model, a generation that failed); the others go
        on. Errors that concern every input (a bad option, a missing model) are raised."""
        for i, text in enumerate(inputs):
            try:
                yield i, self._run(check_text(text))
            except (InputError, GenerationError) as e:
                yield i, e

    @abstractmethod
    def _run(self, text: str) -> Result:
        """Process one checked, non-empty text."""

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options.items())
        return f"{type(self).__name__}({opts})"


__all__ = ["GENERATION_FIELDS", "ModelLike", "Result", "Task"]
