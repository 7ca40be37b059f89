"""Retrieval metrics and runner, the BEIR loader and `ponder eval retrieval`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.embed.fake import HashEmbedder
from ponder.errors import InputError
from ponder.evaluate.beir import ingest_corpus, load_beir, load_qrels
from ponder.evaluate.retrieval import (
    evaluate_beir,
    evaluate_run,
    markdown_table,
    mrr_at,
    ndcg_at,
    per_query_metrics,
    recall_at,
)
from ponder.rag.retrieve import RetrievalConfig
from ponder.store.collection import Collection

L2 = math.log2


# ---------------------------------------------------------------------------------- metrics
def test_ndcg_graded_by_hand() -> None:
    rels = {"d1": 3, "d2": 2, "d3": 0}
    # ranks: d3 (gain 0), d1 (3), d2 (2); ideal: 3, 2
    expected = (3 / L2(3) + 2 / L2(4)) / (3 + 2 / L2(3))
    assert ndcg_at(["d3", "d1", "d2"], rels, 10) == pytest.approx(expected)
    assert ndcg_at(["d1", "d2", "d3"], rels, 10) == pytest.approx(1.0)


def test_ndcg_ideal_comes_from_qrels_not_from_the_run() -> None:
    rels = {"d1": 1, "d2": 1}
    # only d1 retrieved, at rank 1: DCG 1, ideal DCG 1 + 1/log2(3)
    assert ndcg_at(["d1", "x"], rels, 10) == pytest.approx(1 / (1 + 1 / L2(3)))


def test_cutoffs() -> None:
    ranked = [f"x{i}" for i in range(10)] + ["d1"]  # d1 at rank 11
    rels = {"d1": 1}
    assert ndcg_at(ranked, rels, 10) == 0.0
    assert ndcg_at(ranked, rels, 11) == pytest.approx(1 / L2(12))
    assert mrr_at(ranked, rels, 10) == 0.0 and mrr_at(ranked, rels, 11) == pytest.approx(1 / 11)
    assert recall_at(ranked, rels, 10) == 0.0 and recall_at(ranked, rels, 100) == 1.0


def test_ideal_dcg_is_cut_at_k() -> None:
    rels = {f"d{i}": 1 for i in range(12)}  # 12 relevant, only 10 count in the ideal
    assert ndcg_at([f"d{i}" for i in range(10)], rels, 10) == pytest.approx(1.0)
    assert recall_at([f"d{i}" for i in range(10)], rels, 100) == pytest.approx(10 / 12)


def test_non_positive_grades_are_not_relevant() -> None:
    rels = {"d1": 0, "d2": -1, "d3": 1}
    assert mrr_at(["d1", "d2", "d3"], rels, 10) == pytest.approx(1 / 3)
    assert recall_at(["d1", "d2"], rels, 10) == 0.0
    assert ndcg_at(["d2", "d3"], rels, 10) == pytest.approx(1 / L2(3))
    assert ndcg_at(["d1"], {"d1": 0}, 10) == 0.0  # no relevant document at all


def test_means_over_qrels_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 2}}
    run = {"q1": ["a"], "q2": ["x", "b"], "unjudged": ["a"]}  # q3 has no run: scores 0
    per = per_query_metrics(run, qrels)
    assert set(per) == {"q1", "q2", "q3"}
    assert per["q3"] == {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    m = evaluate_run(run, qrels)
    assert m["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / L2(3)) / 3)
    assert m["recall@100"] == pytest.approx(2 / 3)


def test_duplicate_documents_count_once() -> None:
    qrels = {"q": {"a": 1, "b": 1}}
    # a second "a" must not push "b" down nor count twice
    m = evaluate_run({"q": ["a", "a", "b"]}, qrels)
    assert m["ndcg@10"] == pytest.approx(1.0)
    assert m["recall@100"] == 1.0


def test_custom_cutoff_names() -> None:
    m = evaluate_run({"q": ["a"]}, {"q": {"a": 1}}, ndcg_k=5, recall_k=20, mrr_k=3)
    assert set(m) == {"ndcg@5", "recall@20", "mrr@3"}


def test_markdown_table() -> None:
    md = markdown_table([("dense", {"a": 0.5, "b": 1.0}), ("bm25", {"a": 0.25})], ["a", "b"])
    assert md.splitlines() == [
        "| mode | a | b |",
        "|---|---|---|",
        "| dense | 0.5000 | 1.0000 |",
        "| bm25 | 0.2500 |  |",
    ]


# ---------------------------------------------------------------------------------- BEIR data
def make_beir(folder: Path) -> Path:
    corpus = [
        {"_id": "d1", "title": "Cats", "text": "Cats purr when they are content."},
        {"_id": "d2", "title": "Dogs", "text": "Dogs bark at strangers at night."},
        {"_id": "d3", "title": "Stocks", "text": "Stock markets fell sharply on Monday."},
        {"_id": "d4", "title": "", "text": "Rain is expected over the weekend."},
    ]
    queries = [
        {"_id": "q1", "text": "why do cats purr"},
        {"_id": "q2", "text": "dogs bark at night"},
        {"_id": "q3", "text": "stock markets fell"},
        {"_id": "q9", "text": "not judged in test"},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n")
    (folder / "qrels").mkdir(exist_ok=True)
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq3\td3\t1\nq3\td4\t0\n"
    )
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq9\td4\t1\n")
    return folder


def test_load_beir(tmp_path: Path) -> None:
    data = load_beir(make_beir(tmp_path / "beir_tiny"), "test")
    assert (data.name, data.split) == ("beir_tiny", "test")
    assert set(data.queries) == {"q1", "q2", "q3"}
    assert data.qrels["q3"] == {"d3": 1, "d4": 0}
    assert data.corpus["d1"].text == "Cats\n\nCats purr when they are content."
    assert data.corpus["d4"].text == "Rain is expected over the weekend."  # no title
    assert set(load_beir(tmp_path / "beir_tiny", "train").queries) == {"q9"}


def test_load_beir_errors(tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "b")
    with pytest.raises(InputError, match=r"dev.tsv not found.*found: \['test', 'train'\]"):
        load_beir(folder, "dev")
    with pytest.raises(InputError, match="not found"):
        load_beir(tmp_path / "missing")
    (folder / "qrels" / "bad.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\n")
    with pytest.raises(InputError, match="expected 3 tab-separated fields"):
        load_qrels(folder / "qrels" / "bad.tsv")
    (folder / "qrels" / "extra.tsv").write_text("query-id\tcorpus-id\tscore\nqX\td1\t1\n")
    with pytest.raises(InputError, match=r"not in queries\.jsonl"):
        load_beir(folder, "extra")
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "text": "ok"}\n{broken\n')
    with pytest.raises(InputError, match=r"corpus.jsonl:2: not valid JSON"):
        load_beir(folder, "test")


def test_qrels_without_header(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("q1\td1\t2\nq1\td2\t1\n")
    assert load_qrels(path) == {"q1": {"d1": 2, "d2": 1}}


def test_ingest_corpus_is_idempotent(tmp_path: Path, home: Path) -> None:
    data = load_beir(make_beir(tmp_path / "b"), "test")
    emb = HashEmbedder(dim=32)
    col = Collection.create("beir-tiny", home=home, embedder=emb)
    seen: list[int] = []
    assert ingest_corpus(col, data.corpus, batch_size=3, progress=seen.append) == 4
    assert seen == [3, 1] and col.count() == 4
    assert col.get(ids=["d2"])[0].doc_id == "d2"
    calls = emb.calls
    seen.clear()
    assert ingest_corpus(col, data.corpus, progress=seen.append) == 0
    assert emb.calls == calls and seen == [4]  # nothing re-embedded
    changed = dict(data.corpus)
    changed["d3"] = type(changed["d3"])("d3", "Stocks", "Stock markets rose.")
    assert ingest_corpus(col, changed) == 1
    assert emb.texts_embedded == 5 and col.count() == 4


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_evaluate_beir_every_mode(tmp_path: Path, home: Path, mode: str) -> None:
    data = load_beir(make_beir(tmp_path / "b"), "test")
    col = Collection.create("beir-tiny", home=home, embedder=HashEmbedder(dim=256))
    ingest_corpus(col, data.corpus)
    ticks: list[int] = []
    res = evaluate_beir(col, data, RetrievalConfig(mode=mode), progress=ticks.append)
    assert res.mode == mode and res.queries == 3 and sum(ticks) == 3
    # the tiny queries share their distinctive words with the one relevant document
    assert res.metrics == pytest.approx({"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0})
    d = res.to_dict()
    assert "per_query" not in d and set(res.to_dict(with_per_query=True)["per_query"]) == {
        "q1",
        "q2",
        "q3",
    }
    assert ("fusion" in d["config"]) == (mode == "hybrid")


# ---------------------------------------------------------------------------------- CLI
def test_cli_eval_retrieval(tmp_path: Path, home: Path) -> None:
    from ponder.cli.main import app

    folder = make_beir(tmp_path / "beir_tiny")
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    args = ["eval", "retrieval", "--beir", str(folder), "--embedder", "hash"]
    result = CliRunner().invoke(app, [*args, "--output", str(out), "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["collection"] == "beir-tiny" and report["queries"] == 3
    assert set(report["results"]) == {"dense", "bm25", "hybrid"}
    assert report["documents_embedded_now"] == 4
    assert "| hybrid |" in md.read_text()
    assert "ndcg@10" in result.output

    again = CliRunner().invoke(app, [*args, "--retrieval", "bm25", "--json"])
    assert again.exit_code == 0, again.output
    report2 = json.loads(again.stdout[again.stdout.index("{") :])
    assert report2["documents_embedded_now"] == 0  # the collection is reused
    assert list(report2["results"]) == ["bm25"]
    assert report2["results"]["bm25"]["metrics"] == report["results"]["bm25"]["metrics"]


def test_cli_eval_rejects_bad_options(tmp_path: Path, home: Path) -> None:
    from ponder.cli.main import app
    from ponder.errors import ConfigError

    folder = make_beir(tmp_path / "b")
    base = ["eval", "retrieval", "--beir", str(folder), "--embedder", "hash"]
    result = CliRunner().invoke(app, [*base, "--retrieval", "sparse"])
    assert isinstance(result.exception, ConfigError)
    assert "use one or more of dense, bm25, hybrid" in str(result.exception)
    result = CliRunner().invoke(app, [*base, "--weights", "0.5"])
    assert isinstance(result.exception, ConfigError) and "--weights" in str(result.exception)


def test_eval_is_a_group_others_can_extend() -> None:
    from ponder.cli.eval import eval_app
    from ponder.cli.main import app

    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0 and "retrieval" in result.output
    assert any(c.name == "retrieval" for c in eval_app.registered_commands)
