"""Agent tools, one per module: ``calculator``, ``sql``, ``pydoc``, ``search`` and Python
functions (``FunctionTool``); ``parse_tools`` reads the CLI's ``--tools`` list.

>>> [t.name for t in parse_tools("calculator,pydoc")]
['calculator', 'pydoc']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ponder.agents.tools.base import Tool, ToolError
from ponder.agents.tools.calculator import Calculator
from ponder.agents.tools.function import FunctionTool
from ponder.agents.tools.pydoc_tool import PydocTool
from ponder.agents.tools.search import SearchTool
from ponder.agents.tools.sql import SQLTool
from ponder.errors import ConfigError

TOOL_NAMES = ("search:COLLECTION", "calculator", "sql:FILE.csv[+FILE2.jsonl]", "pydoc")


def parse_tools(spec: str, *, home: str | None = None) -> list[Tool]:
    """Tools from ``search:COLLECTION,calculator,sql:FILE.csv,pydoc``."""
    tools: list[Tool] = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, arg = item.partition(":")
        if name == "calculator":
            tools.append(Calculator())
        elif name == "pydoc":
            tools.append(PydocTool())
        elif name == "search":
            if not arg:
                raise ConfigError("search needs a collection: --tools search:COLLECTION")
            tools.append(SearchTool(arg, home=home))
        elif name == "sql":
            if not arg:
                raise ConfigError("sql needs files: --tools sql:data.csv (several: a.csv+b.jsonl)")
            tools.append(SQLTool(arg.split("+")))
        else:
            raise ConfigError(f"unknown tool {name!r}: use {', '.join(TOOL_NAMES)}")
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise ConfigError(f"a tool is listed twice in {spec!r}")
    return tools


def as_tool(obj: Tool | Callable[..., Any]) -> Tool:
    """A ``Tool`` as is; a typed Python function wrapped in ``FunctionTool``."""
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        return FunctionTool(obj)
    raise ConfigError(f"{obj!r} is not a Tool or a function")


__all__ = [
    "TOOL_NAMES",
    "Calculator",
    "FunctionTool",
    "PydocTool",
    "SQLTool",
    "SearchTool",
    "Tool",
    "ToolError",
    "as_tool",
    "parse_tools",
]
