"""Embedder fine-tuning inputs (no model): pair files, BEIR pairs, BM25 hard negatives, and
the ``finetune embedder`` CLI's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError, InputError
from ponder.finetune.embedder import Pair, beir_pairs, mine_bm25_negatives, read_pairs


def _beir(folder: Path) -> Path:
    folder.mkdir()
    docs = {"d1": ("Cats", "Cats purr when they are content."),
            "d2": ("Dogs", "Dogs bark at strangers and purr never."),
            "d3": ("Stocks", "Stock markets fell sharply on Monday.")}
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": k, "title": t, "text": b}) + "\n" for k, (t, b) in docs.items()))
    (folder / "queries.jsonl").write_text(
        json.dumps({"_id": "q1", "text": "why do cats purr"}) + "\n"
        + json.dumps({"_id": "q2", "text": "did markets fall"}) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return folder


def test_read_pairs_reports_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "p.jsonl"
    p.write_text('{"query": "a", "positive": "b", "negative": "c"}\n{oops\n'
                 '{"query": "a"}\n{"query": "x", "positive": "y"}\n')
    pairs, bad = read_pairs(p)
    assert pairs == [Pair("a", "b", "c"), Pair("x", "y", None)]
    assert [b.line for b in bad] == [2, 3]
    with pytest.raises(InputError, match="line 2"):
        read_pairs(p, strict=True)


def test_beir_pairs_and_bm25_negatives_are_not_relevant(tmp_path: Path) -> None:
    pairs, corpus, relevant = beir_pairs(_beir(tmp_path / "b"), "train")
    assert [p.query for p in pairs] == ["why do cats purr", "did markets fall"]
    assert pairs[0].positive == "Cats\n\nCats purr when they are content."
    mined = mine_bm25_negatives(pairs, corpus, relevant)
    # "purr" also matches the dog document: the best non-relevant BM25 hit
    assert mined[0].negative == corpus["d2"]
    assert mined[0].negative != mined[0].positive


def test_cli_embedder_refusals(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["finetune", "embedder", "--out", str(tmp_path / "o")])
    assert isinstance(r.exception, ConfigError) and "--pairs" in str(r.exception)
    p = tmp_path / "p.jsonl"
    p.write_text('{"query": "a", "positive": "b"}\n{"query": "c", "positive": "d"}\n')
    r = CliRunner().invoke(app, ["finetune", "embedder", "--pairs", str(p), "--out",
                                 str(tmp_path / "o"), "--hard-negatives"])
    assert isinstance(r.exception, InputError) and "--beir" in str(r.exception)
    out = tmp_path / "exists"
    out.mkdir()
    (out / "f").write_text("x")
    r = CliRunner().invoke(app, ["finetune", "embedder", "--pairs", str(p), "--out", str(out)])
    assert isinstance(r.exception, InputError) and "--overwrite" in str(r.exception)
