"""Arithmetic, parsed with ``ast`` and evaluated node by node: never ``eval``.

>>> Calculator().run("(2 + 3) * 4 / 5")
'4'
>>> Calculator().run("sqrt(16) + 2**10")
'1028'
>>> Calculator().run("__import__('os')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.agents.tools.base.ToolError: not arithmetic: only numbers, + - * / // % **, ...
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from ponder.agents.tools.base import Tool, ToolError

_BIN: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UN: dict[type, Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUN: dict[str, Callable[..., Any]] = {
    "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt, "log": math.log,
    "exp": math.exp,
}
_HELP = ("not arithmetic: only numbers, + - * / // % **, parentheses and "
         "abs, round, min, max, sqrt, log, exp")


def _eval(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        a, b = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and (abs(b) > 64 or abs(a) > 1e6):
            raise ToolError("exponent too large: keep a**b within |a| <= 1e6, |b| <= 64")
        try:
            return _BIN[type(node.op)](a, b)  # type: ignore[no-any-return]
        except ZeroDivisionError:
            raise ToolError("division by zero") from None
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UN:
        return _UN[type(node.op)](_eval(node.operand))  # type: ignore[no-any-return]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in _FUN and not node.keywords):
        args = [_eval(a) for a in node.args]
        try:
            return _FUN[node.func.id](*args)  # type: ignore[no-any-return]
        except (ValueError, TypeError) as e:
            raise ToolError(f"{node.func.id}: {e}") from None
    raise ToolError(_HELP)


def calculate(expression: str) -> float | int:
    """The value of an arithmetic expression (``^`` is read as ``**``)."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    text = text.replace(",", "") if text.count(",") and "(" not in text else text
    if len(text) > 200:
        raise ToolError("expression too long (over 200 characters)")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError(f"cannot parse {expression!r} as arithmetic") from None
    return _eval(tree)


def format_number(value: float | int) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


class Calculator(Tool):
    name = "calculator"
    description = "evaluates arithmetic, e.g. (12 + 30) / 7 or sqrt(2) * 3"
    example = "(12 + 30) / 7"
    input_gbnf = "[0-9a-z+*/%().,^ -]{1,80}"

    def run(self, text: str) -> str:
        return format_number(calculate(text))


__all__ = ["Calculator", "calculate", "format_number"]
