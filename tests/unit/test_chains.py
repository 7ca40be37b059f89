"""Typed chains: build-time checks, every step kind, the TOML runner and ``ponder chain``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.chains import (
    AskStep,
    Chain,
    FunctionStep,
    ModerateStep,
    PromptStep,
    RetrieveStep,
    TaskStep,
    load_chain,
    load_chain_text,
)
from ponder.cli.main import app
from ponder.errors import ConfigError, InputError
from ponder.llm.fake import ScriptedGenerator
from ponder.store.collection import Collection


@dataclass(frozen=True)
class Stats:
    words: int
    chars: int


def stats(draft: str) -> Stats:
    return Stats(len(draft.split()), len(draft))


def double(words: int) -> int:
    return 2 * words


def test_missing_field_fails_at_build_time_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"step 'stats' needs field 'draft'.*available: topic"):
        Chain([FunctionStep(stats)], inputs={"topic": str})


def test_type_mismatch_fails_at_build_time() -> None:
    def shout(words: str) -> str:
        return words.upper()

    with pytest.raises(ConfigError, match="needs 'words' as str but step 'stats' gives int"):
        Chain([FunctionStep(stats), FunctionStep(shout)], inputs={"draft": str})


def test_duplicate_step_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="two steps are named"):
        Chain([FunctionStep(stats), FunctionStep(stats)], inputs={"draft": str})


def test_prompt_function_chain_runs_with_trace() -> None:
    gen = ScriptedGenerator(["cats purr softly"])
    chain = Chain([PromptStep("draft", "About {topic}", output="draft", model=gen),
                   FunctionStep(stats), FunctionStep(double, output="twice")],
                  inputs={"topic": str})
    r = chain.run({"topic": "cats"})
    assert r.status == "ok"
    assert r.outputs["words"] == 3 and r.outputs["twice"] == 6
    assert [s.name for s in r.trace] == ["draft", "stats", "double"]
    assert r.trace[0].inputs == {"topic": "cats"} and r.trace[1].outputs["chars"] == 16
    assert gen.calls and "About cats" in str(gen.calls[0])
    d = r.to_dict()
    assert d["trace"][2]["outputs"] == {"twice": 6} and "seconds" in d["trace"][0]


def test_caller_inputs_are_checked_at_run_time() -> None:
    chain = Chain([FunctionStep(stats)], inputs={"draft": str})
    with pytest.raises(InputError, match=r"needs input\(s\) \['draft'\]"):
        chain.run({})
    with pytest.raises(InputError, match="'draft' must be str, not int"):
        chain.run({"draft": 3})


def test_json_schema_prompt_step_outputs_typed_fields() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "year": {"type": "integer"}},
              "required": ["city", "year"]}
    gen = ScriptedGenerator(['{"city": "Oslo", "year": 1048}'])
    step = PromptStep("extract", "Facts from {text}", model=gen, json_schema=schema)
    assert step.output_fields() == {"city": str, "year": int}
    out = Chain([step], inputs={"text": str}).run({"text": "Oslo was founded in 1048."})
    assert out.outputs["city"] == "Oslo" and out.outputs["year"] == 1048


def test_moderate_step_redacts_and_blocking_stops_the_chain() -> None:
    def count(clean: str) -> int:
        return len(clean)

    chain = Chain([ModerateStep("check", input="draft", output="clean", toxicity=False),
                   FunctionStep(count)], inputs={"draft": str})
    ok = chain.run({"draft": "mail a@b.org"})
    assert ok.outputs["clean"] == "mail [EMAIL]" and ok.outputs["count"] == 12
    blocking = Chain([ModerateStep("check", input="draft", output="clean", toxicity=False,
                                   policy="email=block"), FunctionStep(count)],
                     inputs={"draft": str})
    r = blocking.run({"draft": "mail a@b.org"})
    assert r.status == "stopped" and "email" in r.reason
    assert [s.status for s in r.trace] == ["stopped"] and "count" not in r.outputs


def test_task_retrieve_and_ask_steps(home: Path) -> None:
    with Collection.create("kb", home=home, embedder="hash") as c:
        c.add(ids=["a", "b"], texts=["csv.DictReader reads CSV rows into dicts.",
                                     "Tea is a drink made from leaves."])
    chain = Chain([
        RetrieveStep("find", "kb", query="question", k=1, mode="bm25"),
        AskStep("answer", "kb", question="question",
                model=ScriptedGenerator(["Tea is a drink [1]."]), min_score=-1.0),
        TaskStep("tone", "sentiment", input="answer", output="tone",
                 model=ScriptedGenerator(["positive"]), method="llm"),
    ], inputs={"question": str})
    r = chain.run({"question": "What is tea?"})
    assert r.status == "ok", r.reason
    assert "Tea is a drink" in r.outputs["context"]
    assert r.outputs["answer"].startswith("Tea is a drink")
    assert isinstance(r.outputs["citations"], list)
    assert "label" in r.outputs["tone"]


def test_a_failing_step_ends_the_run_with_its_error() -> None:
    chain = Chain([RetrieveStep("find", "nowhere", query="q")], inputs={"q": str})
    r = chain.run({"q": "x"})
    assert r.status == "error" and "nowhere" in r.reason and r.trace[0].status == "error"


TOML = """
[chain]
name = "demo"
inputs = { topic = "str" }

[[steps]]
name = "draft"
kind = "prompt"
template = "Write about {topic}."
output = "draft"
max_new_tokens = 40

[[steps]]
name = "check"
kind = "moderate"
input = "draft"
output = "clean"
toxicity = false

[[steps]]
kind = "function"
function = "helpers:shout"
"""


def _write_chain(tmp_path: Path) -> Path:
    (tmp_path / "helpers.py").write_text("def shout(clean: str) -> str:\n"
                                         "    return clean.upper()\n")
    path = tmp_path / "chain.toml"
    path.write_text(TOML)
    return path


def test_toml_chain_loads_and_runs(tmp_path: Path) -> None:
    chain = load_chain(_write_chain(tmp_path), model=ScriptedGenerator(["tea at a@b.org"]))
    r = chain.run({"topic": "tea"})
    assert r.outputs["shout"] == "TEA AT [EMAIL]"


@pytest.mark.parametrize(("text", "needle"), [
    ("[chain]\n", "no \\[\\[steps\\]\\]"),
    ('[[steps]]\nkind = "loop"\n', "kind = 'loop'"),
    ('[[steps]]\nkind = "prompt"\n', "needs 'template'"),
    ('[chain]\ninputs = { a = "str" }\n[[steps]]\nkind = "prompt"\ntemplate = "{b}"\n',
     "needs field 'b'"),
    ("[[steps]\n", "not valid TOML"),
])
def test_bad_toml_chains_are_named(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_chain_text(text, model="fake")


def test_cli_chain_run_plain_trace_json_and_check(tmp_path: Path) -> None:
    path = _write_chain(tmp_path)
    r = CliRunner().invoke(app, ["chain", "run", str(path), "--input", '{"topic": "tea"}',
                                 "--model", "fake", "--trace"])
    assert r.exit_code == 0, r.output
    assert "THIS IS A SCRIPTED REPLY." in r.stdout and "draft" in r.stdout
    r = CliRunner().invoke(app, ["chain", "run", str(path), "-i", '{"topic": "tea"}',
                                 "--model", "fake", "--json", "--trace"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["status"] == "ok" and [s["name"] for s in d["trace"]] == ["draft", "check", "shout"]
    r = CliRunner().invoke(app, ["chain", "check", str(path)])
    assert r.exit_code == 0 and "shout" in r.stdout
    r = CliRunner().invoke(app, ["chain", "run", str(path), "--input", "{oops"])
    assert r.exit_code != 0 and "not a JSON object" in str(r.exception)
