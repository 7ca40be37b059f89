"""The tool interface: a name, a description, what its input looks like (a GBNF rule for the
ReAct grammar, a JSON schema for native tool calling) and ``run(text) -> str``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

# a line of free text, bounded so a small model cannot ramble past max_new_tokens
FREE_TEXT = "[^\\n]{1,120}"


class Tool(ABC):
    """Subclass and set ``name``, ``description``, ``example``; implement ``run``.

    ``input_gbnf`` is the GBNF body of the action input (default: one line of text);
    ``json_schema`` is the arguments schema sent to models with native tool calling (default:
    one string field ``input``). ``arguments_to_input`` turns those arguments into the text
    ``run`` takes.
    """

    name: str = ""
    description: str = ""
    example: str = ""
    input_gbnf: str = FREE_TEXT

    @abstractmethod
    def run(self, text: str) -> str:
        """Do the work; raise ``ToolError`` (or any exception) for a short error observation."""

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "properties": {"input": {"type": "string"}},
                "required": ["input"]}

    def arguments_to_input(self, args: dict[str, Any]) -> str:
        return str(args.get("input", ""))

    def extra_rules(self) -> str:
        """More GBNF rules ``input_gbnf`` refers to (already prefixed with the tool's name)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ToolError(Exception):
    """A tool refusing its input: the message becomes the observation the agent sees."""


__all__ = ["FREE_TEXT", "Tool", "ToolError"]
