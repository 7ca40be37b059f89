"""The task commands through Typer, on the scripted fake model (no real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError, InputError, LoaderError

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin)


def test_sentiment_single_text_as_json() -> None:
    r = invoke("sentiment", "I love it", "--method", "llm", "--model", "fake", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) >= {"label", "score", "scores"}
    assert set(out["scores"]) == {"positive", "negative", "neutral"}


def test_stdin_dash_reads_the_text() -> None:
    r = invoke("summarize", "-", "--method", "lead", "--sentences", "1",
               stdin="First point here. Second point there.")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "First point here."


def test_batch_csv_with_text_field_writes_jsonl_and_skips_bad_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,body\n1,great stuff\n2,\n3,"awful, really"\n', encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    r = invoke("classify", "--labels", "good,bad", "--input", str(src), "--text-field", "body",
               "--output", str(dst), "--method", "llm", "--model", "fake")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [row["row"] for row in rows] == [1, 3]
    assert [row["id"] for row in rows] == [1, 3]
    assert all({"label", "score", "scores", "text"} <= set(row) for row in rows)
    err = " ".join(r.stderr.split())  # rich wraps long lines
    assert "row=2" in err and "2 processed" in err and "1 skipped" in err


def test_csv_without_the_text_field_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,body\n1,hello\n", encoding="utf-8")
    r = invoke("sentiment", "--input", str(src), "--method", "llm", "--model", "fake")
    assert isinstance(r.exception, LoaderError)
    assert "'body'" in str(r.exception) and "--text-field" in str(r.exception)


def test_txt_batch_is_one_input_per_line_and_empty_lines_are_ignored(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("Hello world\n\nGood night\n", encoding="utf-8")
    r = invoke("translate", "--to", "de", "--input", str(src), "--model", "fake", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["row"] for row in rows] == [1, 3]
    assert all(row["target"] == "de" and "translation" in row for row in rows)


def test_summarize_reads_a_txt_file_as_one_document(tmp_path: Path) -> None:
    src = tmp_path / "doc.txt"
    src.write_text("Line one is here.\nLine two follows.\n", encoding="utf-8")
    r = invoke("summarize", "--input", str(src), "--method", "lead", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 1 and "summary" in rows[0]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("classify", "text", "--labels", "spam", "--model", "fake"), ConfigError),
        (("translate", "text", "--to", "klingon", "--model", "fake"), ConfigError),
        (("sentiment", "", "--method", "llm", "--model", "fake"), InputError),
        (("sentiment", "x", "--labels", "good,bad"), ConfigError),
        (("sentiment", "--model", "fake"), ConfigError),
        (("summarize", "x", "--method", "magic"), ConfigError),
        (("nonsense-task",), None),
    ],
)
def test_bad_input_gives_clear_errors(args: tuple[str, ...], error: type | None) -> None:
    r = invoke(*args)
    assert r.exit_code != 0
    if error is not None:
        assert isinstance(r.exception, error), r.exception


def test_fewshot_show_prompt_and_run(tmp_path: Path) -> None:
    ex = tmp_path / "ex.jsonl"
    ex.write_text('{"input": "cat", "output": "animal"}\n{"input": "rose", "output": "plant"}\n')
    r = invoke("fewshot", "oak", "--examples", str(ex), "--instruction", "Classify.",
               "--show-prompt")
    assert r.exit_code == 0, r.output
    assert r.stdout.rstrip().endswith("Input: oak\nOutput:")
    r = invoke("fewshot", "oak", "--examples", str(ex), "--model", "fake", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["examples"] == [0, 1]


def test_decoding_options_reach_the_generative_tasks() -> None:
    r = invoke("translate", "Hello", "--to", "fr", "--model", "fake", "--strategy", "sample",
               "--top-p", "1.5")
    assert isinstance(r.exception, ConfigError) and "top_p" in str(r.exception)
