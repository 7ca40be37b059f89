"""Python functions as tools: the typed signature becomes a JSON schema (and, through it,
the grammar of the action input), so even a small model passes well-typed arguments.

>>> def area(width: float, height: float) -> float:
...     '''Area of a rectangle.'''
...     return width * height
>>> t = FunctionTool(area)
>>> t.json_schema()["required"], t.run('{"width": 3, "height": 2.5}')
(['width', 'height'], '7.5')
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable
from typing import Any

from ponder.agents.tools.base import Tool, ToolError
from ponder.errors import ConfigError
from ponder.llm.structured import schema_to_gbnf

_JSON = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
         dict: "object"}


def prefix_rules(gbnf: str, prefix: str) -> tuple[str, str]:
    """Rename every rule of ``gbnf`` to ``prefix-name`` (string literals and character
    classes untouched); returns ``(rules, new root name)``."""
    names = set(re.findall(r"^([A-Za-z0-9_-]+)\s*::=", gbnf, flags=re.M))
    out: list[str] = []
    i = 0
    while i < len(gbnf):
        c = gbnf[i]
        if c in '"[':
            close = '"' if c == '"' else "]"
            j = i + 1
            while j < len(gbnf) and gbnf[j] != close:
                j += 2 if gbnf[j] == "\\" else 1
            out.append(gbnf[i : j + 1])
            i = j + 1
        elif c.isalnum() or c in "-_":
            j = i
            while j < len(gbnf) and (gbnf[j].isalnum() or gbnf[j] in "-_"):
                j += 1
            word = gbnf[i:j]
            out.append(f"{prefix}-{word}" if word in names else word)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out), f"{prefix}-root"


class FunctionTool(Tool):
    """A tool calling ``fn`` with JSON arguments checked against its typed signature."""

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 description: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ConfigError(f"tool name {self.name!r}: use lower-case letters, digits and _")
        doc = (inspect.getdoc(fn) or "").split("\n\n")[0].replace("\n", " ")
        self.description = description or doc or f"calls {self.name}"
        hints = typing.get_type_hints(fn)
        props: dict[str, Any] = {}
        required: list[str] = []
        for p in inspect.signature(fn).parameters.values():
            t = hints.get(p.name)
            if t not in _JSON:
                raise ConfigError(f"tool {self.name!r}: parameter {p.name!r} needs a type "
                                  f"annotation among {', '.join(x.__name__ for x in _JSON)}")
            props[p.name] = {"type": _JSON[t]}
            if p.default is inspect.Parameter.empty:
                required.append(p.name)
        self._schema = {"type": "object", "properties": props, "required": required,
                        "additionalProperties": False}
        self.example = json.dumps({k: _JSON_EXAMPLE[v["type"]] for k, v in props.items()})

        self._rules, root = prefix_rules(schema_to_gbnf(self._schema), f"fn-{self.name}"
                                         .replace("_", "-"))
        self.input_gbnf = root

    def json_schema(self) -> dict[str, Any]:
        return self._schema

    def extra_rules(self) -> str:
        return self._rules

    def arguments_to_input(self, args: dict[str, Any]) -> str:
        return json.dumps(args)

    def run(self, text: str) -> str:
        try:
            args = json.loads(text)
        except json.JSONDecodeError:
            raise ToolError(f"{self.name} takes JSON arguments like {self.example}") from None
        import jsonschema

        try:
            jsonschema.validate(args, self._schema)
        except jsonschema.ValidationError as e:
            raise ToolError(f"bad arguments for {self.name}: {e.message}") from None
        result = self.fn(**args)
        return result if isinstance(result, str) else json.dumps(result, default=str)


_JSON_EXAMPLE = {"string": "text", "integer": 1, "number": 1.5, "boolean": True,
                 "array": [], "object": {}}

__all__ = ["FunctionTool", "prefix_rules"]
