"""Agents: the tools (calculator, SQL, pydoc, functions), the ReAct grammar, the loop's
guards (errors, timeouts, long output, repeats, step limit), native tool calling and
``ponder agent``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.agents import Agent, Calculator, FunctionTool, PydocTool, SQLTool, Tool, ToolError
from ponder.agents.react import parse_block, react_grammar
from ponder.cli.main import app
from ponder.errors import ConfigError, GenerationError
from ponder.llm.fake import ScriptedGenerator
from ponder.llm.grammar import Grammar
from ponder.llm.openai_compat import OpenAICompatGenerator


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    f = tmp_path / "scores.csv"
    f.write_text("name,team,points\nann,red,10\nbob,blue,7\ncid,red,5\n")
    return f


# ---------------------------------------------------------------- tools

@pytest.mark.parametrize(("expr", "value"), [
    ("2 + 3 * 4", "14"), ("(2 + 3) * 4", "20"), ("7 / 2", "3.5"), ("2 ^ 10", "1024"),
    ("-3 + abs(-5)", "2"), ("round(2.567, 2)", "2.57"), ("max(3, 9, 4) % 5", "4"),
])
def test_calculator_evaluates_arithmetic(expr: str, value: str) -> None:
    assert Calculator().run(expr) == value


@pytest.mark.parametrize(("expr", "needle"), [
    ("__import__('os').system('echo hi')", "not arithmetic"),
    ("open('/etc/passwd')", "not arithmetic"),
    ("(1).__class__", "not arithmetic"),
    ("1 / 0", "division by zero"),
    ("9 ** 9999", "exponent too large"),
    ("2 +", "cannot parse"),
])
def test_calculator_refuses_everything_else(expr: str, needle: str) -> None:
    with pytest.raises(ToolError, match=needle):
        Calculator().run(expr)


def test_sql_reads_and_aggregates(csv_file: Path) -> None:
    sql = SQLTool([csv_file])
    assert sql.run("SELECT team, SUM(points) FROM scores GROUP BY team ORDER BY team") == (
        "team | SUM(points)\nblue | 7\nred | 15")
    assert "scores(name, team, points)" in sql.description


@pytest.mark.parametrize(("query", "needle"), [
    ("DELETE FROM scores", "only SELECT"),
    ("DROP TABLE scores", "only SELECT"),
    ("SELECT 1; DROP TABLE scores", "only one statement"),
    ("SELECT 1; SELECT 2", "only one statement"),
    ("WITH x AS (SELECT 1) INSERT INTO scores VALUES (1, 2, 3)", "not authorized"),
    ("SELECT * FROM nope", "no such table"),
])
def test_sql_refuses_writes_and_several_statements(csv_file: Path, query: str,
                                                   needle: str) -> None:
    sql = SQLTool([csv_file])
    with pytest.raises(ToolError, match=needle):
        sql.run(query)
    assert sql.run("SELECT COUNT(*) FROM scores").endswith("\n3")  # nothing changed


def test_sql_row_and_time_limits(csv_file: Path, tmp_path: Path) -> None:
    sql = SQLTool([csv_file], max_rows=2, timeout=0.2)
    assert "more than 2 rows" in sql.run("SELECT * FROM scores")
    with pytest.raises(ToolError, match=r"longer than 0\.2s"):
        sql.run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                "SELECT COUNT(*) FROM c")
    jl = tmp_path / "events.jsonl"
    jl.write_text('{"kind": "a", "n": 1}\n{"kind": "b", "n": 2, "extra": "x"}\n')
    assert SQLTool([jl]).run("SELECT SUM(n) FROM events") == "SUM(n)\n3"


def test_pydoc_looks_up_stdlib_only() -> None:
    doc = PydocTool().run("os.path.join")
    assert doc.startswith("os.path.join(") and "Join" in doc
    assert PydocTool().run("len").startswith("len(obj")
    with pytest.raises(ToolError, match="not a standard-library module"):
        PydocTool().run("requests.get")
    with pytest.raises(ToolError, match="has no attribute"):
        PydocTool().run("json.nope")


def test_function_tool_from_typed_signature() -> None:
    def convert(amount: float, rate: float = 1.1) -> float:
        """Convert an amount of money."""
        return round(amount * rate, 2)

    t = FunctionTool(convert)
    assert t.description == "Convert an amount of money."
    assert t.json_schema()["required"] == ["amount"]
    assert t.run('{"amount": 10}') == "11.0"
    with pytest.raises(ToolError, match="bad arguments"):
        t.run('{"amount": "ten"}')
    g = Grammar.parse(react_grammar([t]))
    assert g.matches('Thought: x\nAction: convert\nAction Input: {"amount": 2, "rate": 3}\n')
    assert not g.matches('Thought: x\nAction: convert\nAction Input: {"amount": "2"}\n')

    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(ConfigError, match="needs a type annotation"):
        FunctionTool(untyped)


# ---------------------------------------------------------------- grammar and parsing

def test_react_grammar_only_allows_listed_tools_and_valid_inputs(csv_file: Path) -> None:
    g = Grammar.parse(react_grammar([Calculator(), SQLTool([csv_file]), PydocTool()]))
    assert g.matches("Thought: sum\nAction: sql\nAction Input: SELECT SUM(points) FROM scores\n")
    assert g.matches("Thought: ok\nFinal Answer: 22\n")
    assert not g.matches("Thought: x\nAction: sql\nAction Input: DELETE FROM scores\n")
    assert not g.matches("Thought: x\nAction: shell\nAction Input: ls\n")
    assert not g.matches("Action: calculator\nAction Input: 1+1\n")


def test_parse_block_reads_free_form_output() -> None:
    b = parse_block("Thought: hmm\nAction: calculator\nAction Input: 2*3\nObservation: 6")
    assert b is not None and (b.action, b.action_input) == ("calculator", "2*3")
    f = parse_block("I think.\nFinal Answer: 6")
    assert f is not None and f.final == "6"
    assert parse_block("just chatting") is None


# ---------------------------------------------------------------- the loop

class Boom(Tool):
    name = "boom"
    description = "always fails"
    example = "x"

    def run(self, text: str) -> str:
        raise RuntimeError("kaboom: disk on fire")


class Slow(Tool):
    name = "slow"
    description = "never returns in time"
    example = "x"

    def run(self, text: str) -> str:
        time.sleep(5)
        return "late"


class Chatty(Tool):
    name = "chatty"
    description = "returns far too much"
    example = "x"

    def run(self, text: str) -> str:
        return "word " * 10_000


def _call(tool: str, arg: str = "x") -> str:
    return f"Thought: try {tool}\nAction: {tool}\nAction Input: {arg}\n"


def test_tool_failures_become_short_observations_and_the_run_goes_on() -> None:
    model = ScriptedGenerator([_call("boom"), _call("slow"), _call("chatty"),
                               "Thought: done\nFinal Answer: survived\n"])
    agent = Agent([Boom(), Slow(), Chatty()], model=model, tool_timeout=0.2,
                  max_observation=100)
    r = agent.run("Does it survive?")
    assert r.answer == "survived" and r.status == "answered"
    obs = [s.observation for s in r.steps[:3]]
    assert obs[0] == "error: kaboom: disk on fire"
    assert obs[1].startswith("error: slow timed out")
    assert obs[2].endswith("more characters cut)") and len(obs[2]) < 160
    assert [s.error for s in r.steps] == [True, True, False, False]


def test_repeated_calls_are_detected_and_end_with_a_final_answer() -> None:
    model = ScriptedGenerator([_call("calculator", "1+1")] * 3
                              + ["Thought: stop\nFinal Answer: 2\n"])
    r = Agent(["calculator"], model=model).run("1+1?")
    assert r.status == "repeated" and r.answer == "2"
    assert "already called calculator" in r.steps[1].observation
    assert len(r.steps) == 3


def test_step_limit_forces_a_final_answer() -> None:
    model = ScriptedGenerator([_call("calculator", "1+1"), _call("calculator", "2+2"),
                               "Thought: enough\nFinal Answer: 4\n"])
    r = Agent(["calculator"], model=model, max_steps=2).run("?")
    assert r.status == "max_steps" and r.answer == "4" and len(r.steps) == 2


def test_grammar_mode_rejects_a_reply_outside_the_grammar() -> None:
    with pytest.raises(GenerationError, match="does not match the requested grammar"):
        Agent(["calculator"], model=ScriptedGenerator(["free text"])).run("?")


def test_free_mode_parses_and_reports_unparsable_turns() -> None:
    model = ScriptedGenerator(["I am not sure what to do",
                               "Thought: ok\nAction: calculator\nAction Input: 6*7",
                               "Final Answer: 42"])
    r = Agent(["calculator"], model=model, grammar=False).run("6*7?")
    assert r.mode == "free" and r.answer == "42"
    assert r.steps[0].error and "no action found" in r.steps[0].observation
    assert r.steps[1].observation == "42"


def test_unknown_tool_in_free_mode_is_an_observation() -> None:
    model = ScriptedGenerator(["Action: shell\nAction Input: ls", "Final Answer: no"])
    r = Agent(["calculator"], model=model, grammar=False).run("?")
    assert r.steps[0].observation.startswith("error: unknown tool 'shell'")


def test_closed_book_answers_without_tools() -> None:
    r = Agent([], model=ScriptedGenerator(["Thought: I know\nFinal Answer: Paris\n"])).run(
        "Capital of France?")
    assert r.mode == "closed_book" and r.answer == "Paris" and r.steps[0].action is None


# ---------------------------------------------------------------- native tool calling

class _ToolServer(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []  # noqa: RUF012

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _ToolServer.bodies.append(body)
        if any(m["role"] == "tool" for m in body["messages"]):
            msg: dict[str, Any] = {"role": "assistant", "content": "It is 42."}
        else:
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "c1", "type": "function",
                "function": {"name": "calculator", "arguments": '{"input": "6*7"}'}}]}
        data = json.dumps({"choices": [{"message": msg}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def tool_server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _ToolServer)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_openai_models_use_native_tool_calling(tool_server: str) -> None:
    _ToolServer.bodies.clear()
    gen = OpenAICompatGenerator(tool_server, "m")
    r = Agent(["calculator"], model=gen).run("What is 6*7?")
    assert r.mode == "native" and r.answer == "It is 42."
    assert r.steps[0].action == "calculator" and r.steps[0].observation == "42"
    first = _ToolServer.bodies[0]
    assert first["tools"][0]["function"]["name"] == "calculator"
    assert _ToolServer.bodies[1]["messages"][-1] == {"role": "tool", "tool_call_id": "c1",
                                                     "content": "42"}


# ---------------------------------------------------------------- CLI

def test_cli_agent_plain_and_json(monkeypatch: pytest.MonkeyPatch, csv_file: Path) -> None:
    script = ScriptedGenerator([
        "Thought: sum\nAction: sql\nAction Input: SELECT SUM(points) FROM scores\n",
        "Thought: done\nFinal Answer: 22\n"])
    monkeypatch.setattr("ponder.agents.agent.load_generator", lambda spec=None, **kw: script)
    r = CliRunner().invoke(app, ["agent", "Total points?", "--tools", f"sql:{csv_file}",
                                 "--trace"])
    assert r.exit_code == 0, r.output
    assert "22" in r.stdout and "SUM(points)" in r.stdout
    r = CliRunner().invoke(app, ["agent", "Total points?", "--tools", f"sql:{csv_file}",
                                 "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["answer"] == "22" and d["steps"][0]["observation"] == "SUM(points)\n22"
    r = CliRunner().invoke(app, ["agent", "x", "--tools", "shell"])
    assert r.exit_code != 0 and "unknown tool 'shell'" in str(r.exception)
