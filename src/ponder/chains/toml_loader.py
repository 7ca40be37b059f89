"""Chains from TOML files.

::

    [chain]
    name = "draft-check-summarize"
    model = "smollm2"                       # default model of every step (optional)
    inputs = { topic = "str" }              # str, int, float, bool, list, dict

    [[steps]]
    name = "draft"
    kind = "prompt"                         # prompt | task | retrieve | ask | moderate | function
    template = "Write three sentences about {topic}."
    output = "draft"
    max_new_tokens = 96                     # any generation option

    [[steps]]
    name = "check"
    kind = "moderate"
    input = "draft"
    output = "clean"
    policy = { profanity = "redact", pii = "redact", toxicity = "block" }

    [[steps]]
    name = "summary"
    kind = "task"
    task = "summarize"
    input = "clean"

    [[steps]]
    kind = "function"
    function = "mypkg.module:func"          # an importable function with typed parameters

>>> chain = load_chain_text('''
... [chain]
... inputs = { topic = "str" }
... model = "fake"
... [[steps]]
... name = "draft"
... kind = "prompt"
... template = "About {topic}"
... output = "draft"
... ''')
>>> chain.run({"topic": "tea"}).outputs["draft"]
'This is a scripted reply.'
"""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path
from typing import Any

from ponder.chains.chain import Chain
from ponder.chains.steps import (
    AskStep,
    FunctionStep,
    ModerateStep,
    PromptStep,
    RetrieveStep,
    Step,
    TaskStep,
)
from ponder.errors import ConfigError

TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "list": list,
                         "dict": dict, "any": Any}
KINDS = ("prompt", "task", "retrieve", "ask", "moderate", "function")


def load_chain(path: str | Path, *, model: Any = None, home: str | None = None) -> Chain:
    """Read and build (so: check) the chain in a TOML file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"chain file {p} not found")
    return load_chain_text(p.read_text(encoding="utf-8"), model=model, home=home,
                           where=str(p), base=p.parent)


def _import_function(ref: str, base: Path | None) -> Any:
    mod_name, sep, attr = ref.partition(":")
    if not sep:
        raise ConfigError(f"function = {ref!r}: write module:function, e.g. mypkg.text:clean")

    added = False
    if base is not None and str(base) not in sys.path:
        sys.path.insert(0, str(base))
        added = True
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ConfigError(f"function {ref!r}: cannot import {mod_name} ({e})") from None
    finally:
        if added:
            sys.path.remove(str(base))
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise ConfigError(f"function {ref!r}: {mod_name} has no function {attr!r}")
    return fn


def _step(spec: dict[str, Any], i: int, model: Any, home: str | None,
          base: Path | None) -> Step:
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ConfigError(f"step {i + 1}: kind = {kind!r}; use one of {', '.join(KINDS)}")
    given = spec.pop("name", None)
    name = given or f"{kind}{i + 1}"
    try:
        if kind == "prompt":
            spec.setdefault("model", model)
            return PromptStep(name, spec.pop("template"), **spec)
        if kind == "task":
            spec.setdefault("model", model)
            return TaskStep(name, spec.pop("task"), **spec)
        if kind == "retrieve":
            spec.setdefault("home", home)
            return RetrieveStep(name, spec.pop("collection"), **spec)
        if kind == "ask":
            spec.setdefault("model", model)
            spec.setdefault("home", home)
            return AskStep(name, spec.pop("collection"), **spec)
        if kind == "moderate":
            spec.setdefault("model", model)
            return ModerateStep(name, **spec)
        fn = _import_function(spec.pop("function"), base)
        return FunctionStep(fn, name=given, **spec)
    except KeyError as e:
        raise ConfigError(f"step {name!r} ({kind}) needs {e.args[0]!r}") from None
    except TypeError as e:
        raise ConfigError(f"step {name!r} ({kind}): {e}") from None


def load_chain_text(text: str, *, model: Any = None, home: str | None = None,
                    where: str = "chain", base: Path | None = None) -> Chain:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where} is not valid TOML: {e}") from None
    head = data.get("chain", {})
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ConfigError(f"{where}: no [[steps]]: add at least one step")
    inputs: dict[str, Any] = {}
    for k, t in (head.get("inputs") or {}).items():
        if t not in TYPES:
            raise ConfigError(f"{where}: input {k!r} has type {t!r}; use one of "
                              f"{', '.join(TYPES)}")
        inputs[k] = TYPES[t]
    model = model if model is not None else head.get("model")
    built = [_step(s, i, model, home, base) for i, s in enumerate(steps)]
    return Chain(built, inputs=inputs, name=head.get("name", Path(where).stem))


__all__ = ["load_chain", "load_chain_text"]
