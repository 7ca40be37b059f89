"""The ReAct format, its grammar and its parser.

Each model turn is one block::

    Thought: <one line>
    Action: <tool name>
    Action Input: <the tool's input>

or ``Thought: ...`` then ``Final Answer: <one line>``. The grammar is built from the tool
list: the action must be one of the tools and the input must match that tool's own input
rule, so a constrained model always emits a call that can run.

>>> from ponder.agents.tools import Calculator
>>> from ponder.llm.grammar import Grammar
>>> g = Grammar.parse(react_grammar([Calculator()]))
>>> g.matches("Thought: add\\nAction: calculator\\nAction Input: 2+2\\n")
True
>>> g.matches("Thought: add\\nAction: python\\nAction Input: 2+2\\n")
False
>>> parse_block("Thought: add them\\nAction: calculator\\nAction Input: 2+2")
ReactBlock(thought='add them', action='calculator', action_input='2+2', final=None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ponder.agents.tools.base import Tool

ANSWER = "[^\\n]{1,120}"


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def react_grammar(tools: Sequence[Tool], *, final_only: bool = False,
                  thought_chars: int = 100) -> str:
    """GBNF for one ReAct block over ``tools`` (``final_only``: the final answer only;
    ``thought_chars``: the longest thought)."""
    lines = [
        'root ::= "Thought: " thought "\\n" step "\\n"',
        f"thought ::= [^\\n]{{1,{max(1, thought_chars)}}}",
        f'final ::= "Final Answer: " {ANSWER}',
    ]
    if final_only or not tools:
        lines.append("step ::= final")
        return "\n".join(lines) + "\n"
    calls = []
    extra = []
    for i, t in enumerate(tools):
        rule = f"tool{i}"
        calls.append(rule)
        lines.append(f'{rule} ::= {_lit(t.name + chr(10) + "Action Input: ")} {rule}-in')
        lines.append(f"{rule}-in ::= {t.input_gbnf}")
        if t.extra_rules():
            extra.append(t.extra_rules())
    lines.append(f'call ::= "Action: " ({" | ".join(calls)})')
    lines.append("step ::= final | call")
    return "\n".join(lines + extra) + "\n"


@dataclass(frozen=True)
class ReactBlock:
    thought: str
    action: str | None
    action_input: str | None
    final: str | None


_FIELD = re.compile(r"^\s*(Thought|Action Input|Action|Final Answer)\s*:\s*(.*)$", re.M | re.I)


def parse_block(text: str) -> ReactBlock | None:
    """The thought and the action (or final answer) of a block; ``None`` when it has neither
    a complete action nor a final answer (free-form output from an unconstrained model)."""
    found: dict[str, str] = {}
    for m in _FIELD.finditer(text):
        key = m.group(1).lower()
        if key not in found:
            found[key] = m.group(2).strip()
    if "final answer" in found and ("action" not in found or text.lower().find(
            "final answer") < text.lower().find("action:")):
        return ReactBlock(found.get("thought", ""), None, None, found["final answer"])
    if found.get("action") and "action input" in found:
        return ReactBlock(found.get("thought", ""), found["action"], found["action input"], None)
    return None


def system_prompt(tools: Sequence[Tool]) -> str:
    if not tools:
        return ("Answer the question. Reply in this format:\nThought: <your reasoning>\n"
                "Final Answer: <the answer only>")
    listing = "\n".join(f"- {t.name}: {t.description} (example input: {t.example})"
                        for t in tools)
    first = tools[0]
    return (
        "You answer questions using tools. Tools:\n"
        f"{listing}\n\n"
        "Reply with exactly one block, either a tool call:\n"
        "Thought: <what you need next>\nAction: <one tool name>\nAction Input: <its input>\n"
        "or, once the observations give the answer:\n"
        "Thought: <why you know it>\nFinal Answer: <the answer only>\n\n"
        f"Example:\nThought: I should use {first.name}.\nAction: {first.name}\n"
        f"Action Input: {first.example}"
    )


__all__ = ["ReactBlock", "parse_block", "react_grammar", "system_prompt"]
