"""``Agent``: a ReAct loop (thought, action, action input, observation) over tools.

Local models decode each turn under a grammar built from the tool list
(``ponder.agents.react``), so even the 135M default always emits a valid tool call;
``grammar=False`` lets the model write freely and parses what it wrote. OpenAI-compatible
models use their native tool calling. Every run ends with a final answer and the full trace:
a tool that raises, times out or returns too much gives a short error observation; the step
limit and repeated identical calls end the loop with a forced final answer.

>>> from ponder.llm.fake import ScriptedGenerator
>>> model = ScriptedGenerator([
...     "Thought: add\\nAction: calculator\\nAction Input: 40 + 2\\n",
...     "Thought: done\\nFinal Answer: 42\\n"])
>>> r = Agent(["calculator"], model=model).run("What is 40 plus 2?")
>>> r.answer, r.status, [(s.action, s.observation) for s in r.steps]
('42', 'answered', [('calculator', '42'), (None, '')])
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from ponder.agents.native import run_native
from ponder.agents.react import parse_block, react_grammar, system_prompt
from ponder.agents.tools import Tool, as_tool, parse_tools
from ponder.errors import ConfigError, InputError
from ponder.llm import load_generator
from ponder.llm.base import Generator, Message


@dataclass(frozen=True)
class AgentStep:
    """One turn: what the model thought and did, and what it observed."""

    index: int
    thought: str
    action: str | None
    action_input: str | None
    observation: str
    seconds: float
    error: bool = False
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "thought": self.thought, "action": self.action,
                "action_input": self.action_input, "observation": self.observation,
                "seconds": round(self.seconds, 4), "error": self.error, "raw": self.raw}


@dataclass(frozen=True)
class AgentResult:
    """``status``: ``answered``, ``max_steps`` or ``repeated`` (the last two forced a final
    answer); ``mode``: ``grammar``, ``free``, ``native`` or ``closed_book``."""

    question: str
    answer: str
    steps: list[AgentStep] = field(default_factory=list)
    status: str = "answered"
    mode: str = "grammar"
    model: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "status": self.status,
                "mode": self.mode, "model": self.model, "seconds": round(self.seconds, 4),
                "steps": [s.to_dict() for s in self.steps]}

    def rich_tree(self) -> Any:
        tree = Tree(f"[bold]{escape(self.question)}[/] ({self.mode}, {self.model}, "
                    f"{self.seconds:.1f}s, {self.status})")
        for s in self.steps:
            br = tree.add(f"step {s.index} ({s.seconds:.2f}s): [italic]{escape(s.thought)}[/]")
            if s.action is not None:
                br.add(f"[cyan]{escape(s.action)}[/]({escape(s.action_input or '')})")
            color = "red" if s.error else "green"
            br.add(f"[{color}]{escape(s.observation)}[/]")
        tree.add(f"[bold]answer:[/] {escape(self.answer)}")
        return tree


def _run_with_timeout(fn: Callable[[str], str], arg: str, timeout: float) -> str:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(arg)
        except BaseException as e:
            box["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise TimeoutError(f"no result within {timeout:g}s")
    if "error" in box:
        raise box["error"]
    return str(box.get("value", ""))


class Agent:
    """Answer questions with ``tools`` (``Tool`` objects, typed Python functions, or names
    as in ``parse_tools``: ``"calculator"``, ``"sql:data.csv"``...).

    ``grammar``: constrain local models' turns (default); ``native``: use the OpenAI-compatible
    server's tool calling (default: when the model is one); ``tool_timeout`` seconds per call;
    ``max_observation`` characters of a tool's output kept; ``thought_chars``: the longest
    thought the grammar allows.
    """

    def __init__(self, tools: Sequence[Tool | Callable[..., Any] | str] | str = (), *,
                 model: Generator | str | None = None, max_steps: int = 8,
                 grammar: bool = True, native: bool | None = None, tool_timeout: float = 10.0,
                 max_observation: int = 600, max_new_tokens: int = 400,
                 thought_chars: int = 100, home: str | None = None) -> None:
        if max_steps < 1:
            raise ConfigError(f"max_steps={max_steps} must be >= 1")
        items = [tools] if isinstance(tools, str) else list(tools)
        built: list[Tool] = []
        for t in items:
            built.extend(parse_tools(t, home=home) if isinstance(t, str) else [as_tool(t)])
        names = [t.name for t in built]
        if len(set(names)) != len(names):
            raise ConfigError(f"two tools share a name: {names}")
        self.tools = built
        self.by_name = {t.name: t for t in built}
        self._model = model
        self.max_steps = max_steps
        self.grammar = grammar
        self.native = native
        self.tool_timeout = tool_timeout
        self.max_observation = max_observation
        self.max_new_tokens = max_new_tokens
        self.thought_chars = thought_chars

    @property
    def generator(self) -> Generator:
        if not isinstance(self._model, Generator):
            self._model = load_generator(self._model)
        return self._model

    # ------------------------------------------------------------------ tools

    def call_tool(self, name: str, text: str) -> tuple[str, bool]:
        """Run a tool; ``(observation, error?)``. Never raises."""
        tool = self.by_name.get(name.strip())
        if tool is None:
            return f"error: unknown tool {name!r}; tools: {', '.join(self.by_name)}", True
        try:
            out = _run_with_timeout(tool.run, text, self.tool_timeout)
        except TimeoutError as e:
            return f"error: {tool.name} timed out ({e})", True
        except Exception as e:
            msg = " ".join(str(e).split()) or type(e).__name__
            return f"error: {msg[:200]}", True
        out = out.strip() or "(empty result)"
        if len(out) > self.max_observation:
            out = (out[: self.max_observation] + f"… ({len(out) - self.max_observation} more "
                   "characters cut)")
        return out, False

    # ------------------------------------------------------------------ loop

    def run(self, question: str) -> AgentResult:
        if not isinstance(question, str) or not question.strip():
            raise InputError("the agent needs a question, e.g. ponder agent \"What is 2+2?\"")
        gen = self.generator
        native = self.native
        if native is None:
            native = hasattr(gen, "chat_with_tools") and bool(self.tools)
        if native:
            return run_native(self, gen, question.strip())
        return self._run_react(gen, question.strip())

    def _generate(self, gen: Generator, messages: list[Message], *, final_only: bool) -> str:
        opts: dict[str, Any] = {"max_new_tokens": self.max_new_tokens}
        if self.grammar and gen.supports_grammar:
            opts["grammar"] = react_grammar(self.tools, final_only=final_only,
                                            thought_chars=self.thought_chars)
        else:
            opts["stop"] = ["\nObservation", "Observation:"]
        return gen.complete(messages, **opts).text

    def _run_react(self, gen: Generator, question: str) -> AgentResult:
        t0 = time.perf_counter()
        mode = ("grammar" if self.grammar and gen.supports_grammar else "free"
                ) if self.tools else "closed_book"
        messages = [Message("system", system_prompt(self.tools)),
                    Message("user", f"Question: {question}")]
        steps: list[AgentStep] = []
        seen: dict[tuple[str, str], str] = {}
        repeats = 0
        status = "max_steps"
        for i in range(1, self.max_steps + 1):
            ts = time.perf_counter()
            text = self._generate(gen, messages, final_only=not self.tools)
            block = parse_block(text)
            if block is not None and block.final is not None:
                steps.append(AgentStep(i, block.thought, None, None, "", time.perf_counter() - ts,
                                       raw=text))
                return AgentResult(question, block.final, steps, "answered", mode, gen.model_id,
                                   time.perf_counter() - t0)
            if block is None or block.action is None:
                obs, err = ("error: no action found: reply with Thought, Action and Action "
                            "Input lines, or a Final Answer line"), True
                thought, action, arg = text.strip()[:100], None, None
            else:
                thought, action, arg = block.thought, block.action, block.action_input or ""
                key = (action.strip(), " ".join(arg.split()))
                if key in seen:
                    repeats += 1
                    obs, err = (f"you already called {action} with this input; it returned: "
                                f"{seen[key][:200]}. Give the Final Answer or try something "
                                "else."), True
                    if repeats >= 2:
                        steps.append(AgentStep(i, thought, action, arg, obs,
                                               time.perf_counter() - ts, True, text))
                        status = "repeated"
                        break
                else:
                    repeats = 0
                    obs, err = self.call_tool(action, arg)
                    seen[key] = obs
            steps.append(AgentStep(i, thought, action, arg, obs, time.perf_counter() - ts, err,
                                   text))
            messages += [Message("assistant", text.strip()),
                         Message("user", f"Observation: {obs}")]
        answer = self._force_final(gen, messages)
        return AgentResult(question, answer, steps, status, mode, gen.model_id,
                           time.perf_counter() - t0)

    def _force_final(self, gen: Generator, messages: list[Message]) -> str:
        msgs = [*messages, Message("user", "Stop using tools now. Give the Final Answer.")]
        text = self._generate(gen, msgs, final_only=True)
        block = parse_block(text)
        if block is not None and block.final is not None:
            return block.final
        return text.strip().splitlines()[-1] if text.strip() else ""


def tool_specs(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    """The OpenAI ``tools`` list for ``tools``."""
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.json_schema()}} for t in tools]


__all__ = ["Agent", "AgentResult", "AgentStep", "tool_specs"]
