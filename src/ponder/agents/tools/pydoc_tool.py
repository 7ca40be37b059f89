"""Python standard-library documentation: the signature and first paragraphs of a module,
class or function's docstring. Only standard-library names are looked up (nothing else is
imported).

>>> print(PydocTool().run("json.dumps").splitlines()[0][:40])
json.dumps(obj, *, skipkeys=False, ensur
>>> PydocTool().run("numpy.array")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.agents.tools.base.ToolError: numpy is not a standard-library module: ...
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import sys

from ponder.agents.tools.base import Tool, ToolError

# modules that do something when imported, or open windows
_SKIP = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "__main__"}


def lookup(name: str, max_chars: int = 700) -> str:
    name = name.strip().strip("`'\"() ")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        raise ToolError(f"{name!r} is not a dotted Python name such as json.dumps")
    parts = name.split(".")
    top = parts[0]
    if top == "builtins" or (top not in sys.stdlib_module_names and hasattr(
            importlib.import_module("builtins"), top)):
        module_name, rest = "builtins", parts if top != "builtins" else parts[1:]
    else:
        if top not in sys.stdlib_module_names or top in _SKIP:
            raise ToolError(f"{top} is not a standard-library module: look up names such as "
                            "json.dumps or os.path.join")
        module_name, rest = top, parts[1:]
        # the longest importable module prefix (os.path, xml.etree.ElementTree, ...)
        for i in range(len(parts), 1, -1):
            try:
                importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            module_name, rest = ".".join(parts[:i]), parts[i:]
            break
    try:
        obj = importlib.import_module(module_name)
    except ImportError:
        raise ToolError(f"cannot import {module_name}") from None
    for attr in rest:
        if not hasattr(obj, attr):
            raise ToolError(f"{module_name} has no attribute {attr!r}")
        obj = getattr(obj, attr)
    head = name
    if callable(obj):
        with contextlib.suppress(TypeError, ValueError):
            head = f"{name}{inspect.signature(obj)}"
    doc = inspect.getdoc(obj) or "(no docstring)"
    text = f"{head}\n{doc}"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


class PydocTool(Tool):
    name = "pydoc"
    description = "shows the documentation of a Python standard-library name, e.g. json.dumps"
    example = "os.path.join"
    input_gbnf = "[A-Za-z_] [A-Za-z0-9_.]{0,60}"

    def run(self, text: str) -> str:
        return lookup(text)


__all__ = ["PydocTool", "lookup"]
