"""Native tool calling for OpenAI-compatible models: the server's ``tools`` /
``tool_calls`` protocol instead of the ReAct text format (same tools, limits and trace)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ponder.agents.react import system_prompt

if TYPE_CHECKING:
    from ponder.agents.agent import Agent, AgentResult


def run_native(agent: Agent, gen: Any, question: str) -> AgentResult:
    from ponder.agents.agent import AgentResult, AgentStep, tool_specs  # agent imports us

    t0 = time.perf_counter()
    specs = tool_specs(agent.tools)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt(agent.tools).split("\n\nReply with")[0]},
        {"role": "user", "content": question},
    ]
    steps: list[AgentStep] = []
    seen: dict[tuple[str, str], str] = {}
    status = "max_steps"
    for i in range(1, agent.max_steps + 1):
        ts = time.perf_counter()
        content, calls = gen.chat_with_tools(messages, specs,
                                             max_new_tokens=agent.max_new_tokens)
        if not calls:
            steps.append(AgentStep(i, content, None, None, "", time.perf_counter() - ts))
            return AgentResult(question, content.strip(), steps, "answered", "native",
                               gen.model_id, time.perf_counter() - t0)
        messages.append({"role": "assistant", "content": content or None,
                         "tool_calls": [{"id": c["id"], "type": "function",
                                         "function": {"name": c["name"],
                                                      "arguments": c["arguments"]}}
                                        for c in calls]})
        for c in calls:
            tool = agent.by_name.get(c["name"])
            try:
                args = json.loads(c["arguments"] or "{}")
            except json.JSONDecodeError:
                args = {"input": c["arguments"]}
            text = tool.arguments_to_input(args) if tool is not None else str(args)
            key = (c["name"], text)
            if key in seen:
                obs, err = f"already called with this input: {seen[key][:200]}", True
                status = "repeated"
            else:
                obs, err = agent.call_tool(c["name"], text)
                seen[key] = obs
            steps.append(AgentStep(i, content, c["name"], text, obs, time.perf_counter() - ts,
                                   err))
            messages.append({"role": "tool", "tool_call_id": c["id"], "content": obs})
        if status == "repeated":
            break
    messages.append({"role": "user", "content": "Stop using tools now; give the final answer."})
    content, _ = gen.chat_with_tools(messages, [], max_new_tokens=agent.max_new_tokens)
    return AgentResult(question, content.strip(), steps, status, "native", gen.model_id,
                       time.perf_counter() - t0)


__all__ = ["run_native"]
