"""``Task``: what every pipeline shares. A task is a callable over a string or a list of strings.

- Each task has a frozen **options** dataclass (``SummarizeOptions``, ``TranslateOptions``...):
  keyword arguments of the task that name its fields go there, are checked (and normalised) in
  its ``__post_init__``, and ``task.options`` holds them. ``task.replace(**changes)`` is
  ``dataclasses.replace`` on the options, sharing the loaded models.
- Each call gives a typed **result** (``TaskResult``): ``result.summary``, ``result.label``...;
  ``result.to_dict()`` is its JSON object, and the result reads as that mapping too
  (``result["label"]``, ``dict(result)``).
- ``model`` is a ``load_generator`` spec (``"smollm2"``, ``"path.gguf"``, ``"openai:URL#m"``...)
  or a ``Generator``; ``embedder`` a ``load_embedder`` name or an ``Embedder``. Both load
  lazily, on the first call that needs them, so constructing a pipeline is cheap.
- Decoding options (``GenerationConfig`` fields: ``strategy``, ``temperature``, ``top_k``,
  ``top_p``, ``num_beams``, ``repetition_penalty``, ``max_new_tokens``, ``stop``, ``seed``...)
  are accepted by every generative task, in the constructor or per call; scoring tasks
  (sentiment, classification) refuse them, since they decode nothing.
- Prompted tasks share the prompt assembly (``render``: the template filled, plus the
  task's raw-text suffix when the prompt is sent raw or the model has no chat template) and the
  fit to the context window (``text_budget``, ``fit_text``), with token counts from
  ``ponder.text.count_tokens`` (exact, or an estimate when the model exposes no tokenizer).
- A single string gives one result; a list gives a list of them. ``iter_batch`` is the
  forgiving form for files: a bad item yields its error and the rest go on.

>>> from ponder.tasks import pipeline
>>> from ponder.llm.fake import ScriptedGenerator
>>> t = pipeline("translation", model=ScriptedGenerator(["Guten Morgen"]), target="de")
>>> r = t("Good morning")
>>> r.translation, r["target"], r.to_dict()
('Guten Morgen', 'de', {'translation': 'Guten Morgen', 'source': None, 'target': 'de'})
>>> [type(r).__name__ for _, r in t.iter_batch(["Good morning", ""])]
['TranslationResult', 'InputError']
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ponder.embed.base import Embedder
from ponder.errors import ConfigError, GenerationError, InputError, PonderError
from ponder.llm.base import Generator
from ponder.llm.config import GenerationConfig
from ponder.prompts.template import PromptTemplate
from ponder.tasks.inputs import check_text, check_texts
from ponder.text import count_tokens

GENERATION_FIELDS = frozenset(f.name for f in dataclasses.fields(GenerationConfig))
ModelLike = str | Generator | None


@dataclass(frozen=True, kw_only=True)
class TaskOptions:
    """Base of the tasks' options: frozen, changed with ``dataclasses.replace`` (which runs
    the subclass's ``__post_init__`` checks again)."""

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))

    def _set(self, **values: Any) -> None:
        """Store normalised values from ``__post_init__`` (the dataclass is frozen)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


@dataclass(frozen=True, kw_only=True)
class PromptOptions(TaskOptions):
    """Options of the tasks that prompt a model: a prompt template of their own (``None``: the
    task's), a system message, and ``raw`` (send the prompt as plain text, no chat template)."""

    prompt: str | None = None
    system: str | None = None
    raw: bool = False


@dataclass(frozen=True, eq=False)
class TaskResult(Mapping[str, Any]):
    """Base of the typed results. ``to_dict()`` is the JSON object: every field without a
    default, and the fields with one only when they hold something else (a ``warning`` only
    when there is one). The result is also a read-only mapping over that object."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                out[f.name] = value
        return out

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


OptionsT = TypeVar("OptionsT", bound=TaskOptions)
ResultT = TypeVar("ResultT", bound=TaskResult)


class Task(ABC, Generic[OptionsT, ResultT]):
    """Base class of the task pipelines. Subclasses set ``task``, ``options_type`` (a
    ``TaskOptions`` dataclass) and implement ``_run``; ``primary`` names the option that the
    first positional argument sets (``FewShot(examples)``, ``Translator("de")``)."""

    task: ClassVar[str] = ""
    options_type: ClassVar[type[TaskOptions]] = TaskOptions
    primary: ClassVar[str | None] = None
    generative: ClassVar[bool] = False
    default_generation: ClassVar[dict[str, Any]] = {}
    default_prompt: ClassVar[str] = ""
    raw_suffix: ClassVar[str] = ""

    def __init__(
        self,
        first: Any = None,
        /,
        *,
        options: OptionsT | None = None,
        model: ModelLike = None,
        embedder: Any = None,
        config: GenerationConfig | None = None,
        **kwargs: Any,
    ) -> None:
        names = self.options_type.names()
        if first is not None:
            if self.primary is None:
                raise ConfigError(
                    f"{self.task} takes keyword options only, e.g. "
                    f"{type(self).__name__}({', '.join(f'{n}=...' for n in sorted(names)[:2])})"
                )
            kwargs[self.primary] = first
        own = {k: v for k, v in kwargs.items() if k in names}
        generation = {k: v for k, v in kwargs.items() if k not in names}
        unknown = sorted(set(generation) - GENERATION_FIELDS)
        if unknown:
            raise ConfigError(
                f"{self.task} has no option(s) {unknown}; its options are {sorted(names)}"
                + (" plus the decoding options of GenerationConfig" if self.generative else "")
            )
        given = {k: v for k, v in generation.items() if v is not None}
        if (given or config is not None) and not self.generative:
            raise ConfigError(
                f"{self.task} scores labels by log-probability and generates no text: decoding "
                f"options {sorted(given) or ['config']} do not apply to it; remove them"
            )
        if options is None:
            self.options: OptionsT = self.options_type(**own)  # type: ignore[assignment]
        elif not isinstance(options, self.options_type):
            raise ConfigError(
                f"{type(self).__name__} takes options={self.options_type.__name__}(...), not "
                f"{type(options).__name__}"
            )
        else:
            self.options = dataclasses.replace(options, **own) if own else options
        self._model: ModelLike = model
        self._embedder: Any = embedder
        self._base_config = config
        self._generation = given
        cfg = (config or GenerationConfig()).replace(**self.default_generation)
        self.config: GenerationConfig = cfg.replace(**given)
        self.config.validate()  # options are checked before any model loads
        prompt = getattr(self.options, "prompt", None)
        self.template = PromptTemplate(prompt or self.default_prompt)
        if self.default_prompt and "text" not in self.template.variables:
            raise ConfigError(f"the {self.task} prompt needs a {{text}} variable")
        self._prepare()

    def _prepare(self) -> None:
        """Set up what the subclass derives from its options (caches start empty)."""

    # ------------------------------------------------------------ models, loaded lazily

    @property
    def generator(self) -> Generator:
        """The generator, loaded on first use."""
        if not isinstance(self._model, Generator):
            from ponder.llm import load_generator  # the backends pull in llama_cpp

            self._model = load_generator(self._model)
        return self._model

    @property
    def embedder(self) -> Any:
        """The embedder, loaded on first use (``ponder.embed.load_embedder``)."""
        if not isinstance(self._embedder, Embedder):
            from ponder.embed import load_embedder  # the backends pull in onnx/torch

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

    # ------------------------------------------------------------ prompts and the window

    def render(
        self, gen: Generator, template: PromptTemplate | None = None, **values: str
    ) -> str:
        """The prompt body: ``template`` (default: the task's) filled with those of ``values``
        it names, plus ``raw_suffix`` when the prompt goes raw or the model has no chat
        template (the suffix's own ``{names}`` are filled from ``values`` too)."""
        template = template or self.template
        body = template.fill(**{k: v for k, v in values.items() if k in template.variables})
        if self.raw_suffix and (getattr(self.options, "raw", False) or not gen.has_chat_template):
            body += self.raw_suffix.format(**values)
        return body

    def complete_text(self, gen: Generator, body: str, config: GenerationConfig) -> Any:
        """``gen.complete`` with the task's system message and raw setting."""
        return gen.complete(
            body, config, system=getattr(self.options, "system", None),
            raw=getattr(self.options, "raw", False),
        )

    @staticmethod
    def tokens(gen: Generator, text: str) -> int:
        """Tokens of ``text`` for ``gen``: exact, or the estimate of ``ponder.text``."""
        return count_tokens(text, gen).n

    def text_budget(
        self, gen: Generator, *, reserve: int, max_new_tokens: int = 0, minimum: int = 16,
        **values: str,
    ) -> int:
        """Tokens of text the prompt can take: the context window less the empty prompt
        (``values`` fill its other variables), the system message, ``reserve`` and
        ``max_new_tokens``. ``ConfigError`` when that leaves less than ``minimum``."""
        overhead = self.tokens(gen, self.render(gen, **{**values, "text": ""})) + reserve
        system = getattr(self.options, "system", None)
        if system:
            overhead += self.tokens(gen, system)
        window = gen.context_window
        budget = window - overhead - max_new_tokens
        if budget < minimum:
            after = f" and max_new_tokens={max_new_tokens}" if max_new_tokens else ""
            raise ConfigError(
                f"the context window of {window} tokens leaves {budget} tokens for text after "
                f"the {self.task} prompt{after}: shorten the prompt (or the labels), lower "
                "max_length/max_new_tokens, or use a model with a larger window"
            )
        return budget

    def fit_text(self, gen: Generator, text: str, budget: int) -> tuple[str, bool]:
        """``(text, cut)``: the start of ``text`` that fits ``budget`` tokens."""
        n = self.tokens(gen, text)
        if n <= budget:
            return text, False
        while text and n > budget:
            text = text[: int(len(text) * budget / max(n, 1) * 0.95)]
            n = self.tokens(gen, text)
        return text, True

    # ------------------------------------------------------------ calling

    def replace(self, **changes: Any) -> Task[OptionsT, ResultT]:
        """A copy with some options (or decoding options) changed, sharing the loaded models.

        >>> from ponder.tasks import pipeline
        >>> s = pipeline("sentiment", method="llm", model="fake")
        >>> s.replace(labels="good,bad").options.labels
        ('good', 'bad')
        """
        names = self.options_type.names()
        own = {k: v for k, v in changes.items() if k in names}
        generation = {**self._generation, **{k: v for k, v in changes.items() if k not in names}}
        return type(self)(
            options=dataclasses.replace(self.options, **own), model=self._model,
            embedder=self._embedder, config=self._base_config, **generation,
        )

    def __call__(
        self,
        inputs: str | Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
        **overrides: Any,
    ) -> ResultT | list[ResultT]:
        """Run the task on one text (a result) or a list of texts (a list of results).

        Every text of a list is checked before any work, so an empty one fails fast with its
        position; use ``iter_batch`` to skip bad items instead.
        """
        task = self.replace(**overrides) if overrides else self
        if isinstance(inputs, str):
            return task._run(check_text(inputs))
        inputs = check_texts(inputs, self.task)
        out: list[ResultT] = []
        for text in inputs:
            out.append(task._run(text))
            if progress:
                progress(1)
        return out

    def iter_batch(self, inputs: Sequence[str]) -> Iterator[tuple[int, ResultT | PonderError]]:
        """``(index, result)`` for each input, or ``(index, error)`` for an input that cannot be
        processed (empty text, too long for the model, a generation that failed); the others go
        on. Errors that concern every input (a bad option, a missing model) are raised."""
        for i, text in enumerate(inputs):
            try:
                yield i, self._run(check_text(text))
            except (InputError, GenerationError) as e:
                yield i, e

    @abstractmethod
    def _run(self, text: str) -> ResultT:
        """Process one checked, non-empty text."""

    def __repr__(self) -> str:
        opts = ", ".join(
            f"{f.name}={getattr(self.options, f.name)!r}"
            for f in dataclasses.fields(self.options)
        )
        return f"{type(self).__name__}({opts})"


__all__ = [
    "GENERATION_FIELDS",
    "ModelLike",
    "PromptOptions",
    "Task",
    "TaskOptions",
    "TaskResult",
]
