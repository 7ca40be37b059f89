"""``ponder generate`` and ``ponder tokens`` with the no-model generators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError, ModelNotFoundError

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_generate_streams_text_with_fake_model() -> None:
    r = _run("generate", "Hello", "--model", "fake")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "This is a scripted reply."


def test_generate_json_has_the_required_fields() -> None:
    r = _run("generate", "the", "--model", "toy", "--strategy", "beam", "--num-beams", "2",
             "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["text"] == " dog barked"
    for key in ("text", "tokens", "tokens_per_second", "finish_reason"):
        assert key in out
    assert out["finish_reason"] == "stop"
    assert [t["text"] for t in out["tokens"]] == [" dog", " barked"]
    assert out["config"]["num_beams"] == 2


def test_same_seed_same_output() -> None:
    args = ["generate", "the", "--model", "toy", "--strategy", "sample", "--temperature", "1.5",
            "--seed", "4", "--json"]
    a, b = _run(*args), _run(*args)
    assert json.loads(a.stdout)["text"] == json.loads(b.stdout)["text"]


def test_stop_and_max_new_tokens() -> None:
    r = _run("generate", "x", "--model", "fake", "--stop", " scripted", "--json")
    assert json.loads(r.stdout)["text"] == "This is a"
    r = _run("generate", "x", "--model", "fake", "-n", "2", "--json")
    out = json.loads(r.stdout)
    assert out["text"] == "This is" and out["finish_reason"] == "length"


def test_explain_table_and_html_tree(tmp_path: Path) -> None:
    html = tmp_path / "tree.html"
    r = _run("generate", "the", "--model", "toy", "--strategy", "beam", "--num-beams", "2",
             "--explain", "--explain-out", str(html))
    assert r.exit_code == 0, r.output
    assert "Beam search" in r.stdout and "dropped" in r.stdout and "finished" in r.stdout
    assert "barked" in html.read_text(encoding="utf-8")
    r = _run("generate", "the", "--model", "toy", "--explain", "--top-n", "2")
    assert "top 2 candidates" in r.stdout


def test_explain_json_includes_the_trace() -> None:
    r = _run("generate", "the", "--model", "toy", "--explain", "--json")
    out = json.loads(r.stdout)
    assert out["explain"]["steps"][0]["chosen"]["text"] == " cat"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--top-p", "0"], "top_p"),
        (["--top-p", "1.5"], "top_p"),
        (["--num-beams", "0", "--strategy", "beam"], "num_beams"),
        (["--temperature", "-1"], "temperature"),
        (["--strategy", "wild"], "unknown strategy"),
        (["--truncate", "middle"], "truncate"),
        (["--explain-out", "tree.svg"], ".html or .png"),
    ],
)
def test_bad_parameters_fail_before_the_model_loads(args: list[str], fragment: str) -> None:
    # the model path does not exist: a ConfigError (not ModelNotFoundError) proves validation
    # happened first
    r = _run("generate", "x", "--model", "/no/such/model.gguf", *args)
    assert isinstance(r.exception, ConfigError), r.output
    assert fragment in str(r.exception)


def test_missing_model_file_says_what_to_do() -> None:
    r = _run("generate", "x", "--model", "/no/such/model.gguf")
    assert isinstance(r.exception, ModelNotFoundError)
    assert "/no/such/model.gguf" in str(r.exception) and "smollm2" in str(r.exception)


def test_tokens_json_with_toy_model_and_hash_embedder() -> None:
    r = _run("tokens", "the cat sat, twice!", "--model", "toy", "--embedder", "hash", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    names = [s["name"] for s in out["sections"]]
    assert names[:2] == ["words", "characters"]
    words = out["sections"][0]
    assert words["tokens"] == ["the", "cat", "sat", ",", "twice", "!"]
    chars = out["sections"][1]
    assert chars["count"] == len("the cat sat, twice!")
    gen = out["sections"][2]
    assert gen["name"] == "generator: toy" and gen["context_window"] == 512
    assert gen["tokens"] == ["the", " cat", "<unk>", "<unk>"]  # the toy vocabulary is tiny
    assert gen["percent_of_window"] == pytest.approx(100 * 4 / 512, abs=0.01)
    emb = out["sections"][3]
    assert emb["name"].startswith("embedder:") and emb["count"] >= 1


def test_tokens_terminal_output_and_unavailable_tokenizer() -> None:
    r = _run("tokens", "hello there", "--model", "fake", "--embedder", "hash")
    assert r.exit_code == 0, r.output
    assert "How the text splits" in r.stdout
    assert "generator: scripted" in r.stdout
    r = _run("tokens", "hello", "--model", "openai:http://127.0.0.1:9/v1#m", "--embedder",
             "hash")
    assert r.exit_code == 0 and "unavailable" in r.stdout
