"""The ReAct agent on the real default model: under the grammar every turn is a valid tool
call or a final answer, and the run always ends with an answer and a trace."""

from __future__ import annotations

import pytest

from ponder.agents import Agent

pytestmark = pytest.mark.integration


def test_grammar_agent_turns_are_always_valid(gen) -> None:  # type: ignore[no-untyped-def]
    agent = Agent(["calculator", "pydoc"], model=gen, max_steps=1, max_new_tokens=64,
                  thought_chars=30)
    r = agent.run("What is 17 times 23?")
    assert r.mode == "grammar" and r.answer
    assert len(r.steps) == 1
    for s in r.steps:
        # the grammar guarantees a parsable block naming a real tool (or a final answer)
        assert "no action found" not in s.observation
        assert s.action in (None, "calculator", "pydoc")
        assert not s.observation.startswith("error: unknown tool")
