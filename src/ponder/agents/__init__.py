"""Tool-using agents: a grammar-constrained ReAct loop (native tool calling on
OpenAI-compatible servers) over collection search, a calculator, read-only SQL, the stdlib
docs and typed Python functions.

>>> from ponder.agents import Agent
>>> Agent(["calculator"]).call_tool("calculator", "2 ** 8")
('256', False)
"""

from __future__ import annotations

from ponder.agents.agent import Agent, AgentResult, AgentStep
from ponder.agents.react import react_grammar
from ponder.agents.tools import (
    Calculator,
    FunctionTool,
    PydocTool,
    SearchTool,
    SQLTool,
    Tool,
    ToolError,
    parse_tools,
)

__all__ = ["Agent", "AgentResult", "AgentStep", "Calculator", "FunctionTool", "PydocTool",
           "SQLTool", "SearchTool", "Tool", "ToolError", "parse_tools", "react_grammar"]
