"""Chain steps. Each declares its inputs and outputs as typed fields (a dataclass or a
pydantic model type per side), so a ``Chain`` can check at build time that every input is
produced by an earlier step or given by the caller.

=================  ===============================  ==========================================
step               inputs                           outputs
=================  ===============================  ==========================================
``PromptStep``     the template's ``{variables}``   ``output`` (str), or the JSON schema's
                                                    properties when ``json_schema`` is given
``TaskStep``       ``input`` (str)                  ``output`` (the task's result dict)
``RetrieveStep``   ``query`` (str)                  ``passages`` (list), ``context`` (str)
``AskStep``        ``question`` (str)               ``answer`` (str), ``citations`` (list)
``ModerateStep``   ``input`` (str)                  ``output`` (str), ``flagged`` (bool),
                                                    ``blocked`` (bool)
``FunctionStep``   the function's parameters        its return dataclass's fields, or
                                                    ``output``
=================  ===============================  ==========================================

>>> s = PromptStep("draft", "Write about {topic}.", output="draft")
>>> s.input_fields(), s.output_fields()
({'topic': <class 'str'>}, {'draft': <class 'str'>})
>>> def words(draft: str) -> int:
...     return len(draft.split())
>>> FunctionStep(words, output="n_words").output_fields()
{'n_words': <class 'int'>}
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from ponder.errors import ConfigError, InputError
from ponder.llm import load_generator
from ponder.llm.base import Generator
from ponder.llm.config import GenerationConfig
from ponder.llm.structured import check_schema
from ponder.moderate import moderate
from ponder.moderate.policy import Policy
from ponder.prompts.template import PromptTemplate
from ponder.rag import ask
from ponder.rag.retrieve import retrieve
from ponder.tasks.registry import pipeline, resolve_task

JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float,
                              "boolean": bool, "array": list, "object": dict}


class ChainStopped(Exception):
    """Raised by a step to end the chain early (e.g. moderation blocked the text)."""

    def __init__(self, reason: str, outputs: dict[str, Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outputs = outputs


def fields_of(tp: Any) -> dict[str, Any]:
    """``{name: type}`` of a dataclass or pydantic model type (or a mapping given as is)."""
    if isinstance(tp, dict):
        return dict(tp)
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(tp)}
    model_fields = getattr(tp, "model_fields", None)
    if isinstance(model_fields, dict):  # pydantic v2
        return {k: getattr(v, "annotation", Any) for k, v in model_fields.items()}
    raise ConfigError(f"{tp!r} is not a dataclass or pydantic model: declare step fields with "
                      "one of them (or a {name: type} mapping)")


def make_fields(name: str, spec: dict[str, Any]) -> type:
    """A frozen dataclass type with fields ``spec`` (used for generated steps)."""
    return dataclasses.make_dataclass(name, [(k, v) for k, v in spec.items()], frozen=True)


class Step(ABC):
    """A chain step: ``Input``/``Output`` field types and ``run(values) -> outputs``.

    The extension point of chains: subclasses set ``kind``, ``self.Input`` and ``self.Output``
    (dataclass or pydantic model types) and implement ``_run(inputs: dict) -> dict``; ``run``
    picks the inputs, calls it and checks that every output field came back.
    """

    kind = "step"
    Input: Any = None
    Output: Any = None

    def __init__(self, name: str) -> None:
        if not name or not isinstance(name, str):
            raise ConfigError("every step needs a name")
        self.name = name

    def input_fields(self) -> dict[str, Any]:
        return fields_of(self.Input)

    def output_fields(self) -> dict[str, Any]:
        return fields_of(self.Output)

    def run(self, values: dict[str, Any]) -> dict[str, Any]:
        inputs = {k: values[k] for k in self.input_fields()}
        out = self._run(inputs)
        missing = set(self.output_fields()) - set(out)
        if missing:
            raise InputError(f"step {self.name!r} did not produce {sorted(missing)}")
        return {k: out[k] for k in self.output_fields()}

    @abstractmethod
    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The step's work: ``inputs`` has every ``Input`` field; return every ``Output`` one."""

    def describe(self) -> str:
        return self.kind


def _generator(model: Any) -> Any:
    return model if isinstance(model, Generator) else load_generator(model)


class PromptStep(Step):
    """Fill a ``PromptTemplate`` and generate. With ``json_schema`` the output is decoded
    under the schema and each of its properties becomes an output field."""

    kind = "prompt"

    def __init__(self, name: str, template: str, *, output: str = "text", model: Any = None,
                 system: str | None = None, json_schema: Any = None,
                 **generation: Any) -> None:
        super().__init__(name)

        self.template = PromptTemplate(template)
        self.model = model
        self.system = system
        self.schema = None
        if json_schema is not None:
            self.schema = check_schema(json_schema)
        self.config = GenerationConfig().replace(
            json_schema=self.schema, **generation).validate()
        self.Input = make_fields(f"{name}_in", {v: str for v in self.template.variables})
        if self.schema is not None and isinstance(self.schema, dict) and self.schema.get(
                "properties"):
            props = self.schema["properties"]
            out = {k: JSON_TYPES.get(v.get("type"), Any) if isinstance(v, dict) else Any
                   for k, v in props.items()}
        else:
            out = {output: dict if self.schema is not None else str}
        self.output_name = output
        self.Output = make_fields(f"{name}_out", out)

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        prompt = self.template.fill(**{k: str(v) for k, v in inputs.items()})
        gen = _generator(self.model)
        c = gen.complete(prompt, self.config, system=self.system)
        if self.schema is None:
            return {self.output_name: c.text.strip()}
        value = c.json()
        if isinstance(value, dict) and set(self.output_fields()) != {self.output_name}:
            return {k: value.get(k) for k in self.output_fields()}
        return {self.output_name: value}

    def describe(self) -> str:
        return f"prompt: {self.template.text[:60]!r}"


class TaskStep(Step):
    """Any ``ponder.pipeline`` task on one text field."""

    kind = "task"

    def __init__(self, name: str, task: str, *, input: str = "text",
                 output: str | None = None, model: Any = None, **options: Any) -> None:
        super().__init__(name)

        self.task_name = resolve_task(task)[0]
        self.model = model
        self.options = options
        self.input_name = input
        self.output_name = output or name
        self.Input = make_fields(f"{name}_in", {input: str})
        self.Output = make_fields(f"{name}_out", {self.output_name: dict})
        self._task: Any = None

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        if self._task is None:
            self._task = pipeline(self.task_name, model=self.model, **self.options)
        return {self.output_name: dict(self._task(str(inputs[self.input_name])))}

    def describe(self) -> str:
        return f"task: {self.task_name}"


class RetrieveStep(Step):
    """``ponder.rag.retrieve`` over a collection: the passages and their joined text."""

    kind = "retrieve"

    def __init__(self, name: str, collection: str, *, query: str = "question", k: int = 4,
                 output: str = "passages", context: str = "context", mode: str = "hybrid",
                 home: str | None = None) -> None:
        super().__init__(name)
        self.collection = collection
        self.k = k
        self.mode = mode
        self.home = home
        self.query_name, self.out_name, self.ctx_name = query, output, context
        self.Input = make_fields(f"{name}_in", {query: str})
        self.Output = make_fields(f"{name}_out", {output: list, context: str})

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        from ponder.store.collection import Collection

        with Collection.open(self.collection, home=self.home) as col:
            hits = retrieve(col, str(inputs[self.query_name]), mode=self.mode, k=self.k)
        passages = [{"id": h.chunk.id, "text": h.chunk.text, "source": h.chunk.source,
                     "score": round(float(h.score), 4)} for h in hits]
        return {self.out_name: passages,
                self.ctx_name: "\n\n".join(p["text"] for p in passages)}

    def describe(self) -> str:
        return f"retrieve: {self.collection} (k={self.k})"


class AskStep(Step):
    """``ponder.rag.ask``: an answer with citations from a collection."""

    kind = "ask"

    def __init__(self, name: str, collection: str, *, question: str = "question",
                 output: str = "answer", model: Any = None, home: str | None = None,
                 **options: Any) -> None:
        super().__init__(name)
        self.collection = collection
        self.model = model
        self.home = home
        self.options = options
        self.q_name, self.out_name = question, output
        self.Input = make_fields(f"{name}_in", {question: str})
        self.Output = make_fields(f"{name}_out", {output: str, "citations": list})

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(self.options)
        if self.home is not None:
            kwargs["home"] = self.home
        ans = ask(str(inputs[self.q_name]), collection=self.collection, model=self.model,
                  **kwargs)
        d = ans.to_dict()
        return {self.out_name: d.get("answer", ans.text), "citations": d.get("citations", [])}

    def describe(self) -> str:
        return f"ask: {self.collection}"


class ModerateStep(Step):
    """``ponder.moderate``: the redacted text; a blocked text stops the chain."""

    kind = "moderate"

    def __init__(self, name: str, *, input: str = "text", output: str | None = None,
                 policy: Any = None, toxicity: bool = True, toxicity_method: str = "auto",
                 model: Any = None, stop_on_block: bool = True) -> None:
        super().__init__(name)

        self.policy = Policy.parse(policy)
        self.toxicity = toxicity
        self.toxicity_method = toxicity_method
        self.model = model
        self.stop_on_block = stop_on_block
        self.in_name = input
        self.out_name = output or f"{input}_moderated"
        self.Input = make_fields(f"{name}_in", {input: str})
        self.Output = make_fields(f"{name}_out",
                                  {self.out_name: str, "flagged": bool, "blocked": bool})

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        r = moderate(str(inputs[self.in_name]), self.policy, toxicity=self.toxicity,
                     toxicity_method=self.toxicity_method, model=self.model)
        out = {self.out_name: r.output, "flagged": r.flagged, "blocked": r.blocked}
        if r.blocked and self.stop_on_block:
            cats = sorted({f.category for f in r.findings if f.action == "block"})
            raise ChainStopped(f"moderation blocked the text ({', '.join(cats)})", out)
        return out

    def describe(self) -> str:
        return f"moderate: {self.in_name}"


class FunctionStep(Step):
    """A Python function: its typed parameters are the inputs; a dataclass return gives its
    fields as outputs, anything else one field (``output``, default the function's name)."""

    kind = "function"

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 output: str | None = None) -> None:
        super().__init__(name or getattr(fn, "__name__", "function"))
        self.fn = fn
        try:
            hints = typing.get_type_hints(fn)
        except (NameError, TypeError):
            hints = {}
        sig = inspect.signature(fn)
        params = {}
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ConfigError(f"function step {self.name!r}: *args/**kwargs cannot be "
                                  "checked; give named, typed parameters")
            params[p.name] = hints.get(p.name, Any)
        self.Input = make_fields(f"{self.name}_in", params)
        ret = hints.get("return", Any)
        self._unpack = dataclasses.is_dataclass(ret) or hasattr(ret, "model_fields")
        self.out_name = output or getattr(fn, "__name__", self.name)
        self.Output = ret if self._unpack else make_fields(
            f"{self.name}_out", {self.out_name: ret})

    def _run(self, inputs: dict[str, Any]) -> dict[str, Any]:
        value = self.fn(**inputs)
        if self._unpack:
            if dataclasses.is_dataclass(value):
                return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return dict(value.model_dump())
        return {self.out_name: value}

    def describe(self) -> str:
        return f"function: {getattr(self.fn, '__qualname__', self.name)}"


__all__ = ["AskStep", "ChainStopped", "FunctionStep", "ModerateStep", "PromptStep",
           "RetrieveStep", "Step", "TaskStep", "fields_of", "make_fields"]
