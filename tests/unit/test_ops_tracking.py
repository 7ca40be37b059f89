"""``--mlflow`` tracking against a real local MLflow store (a temporary folder)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("mlflow")

from ponder.cli.main import app
from ponder.errors import ConfigError
from ponder.ops.tracking import log_eval_run, tracking_uri


@pytest.fixture(autouse=True)
def _offline(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.ops.testing import fresh_store

    fresh_store(home / "mlflow")  # the default store, its tables made once per test run
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")


def make_beir(folder: Path) -> Path:
    """A three-query BEIR folder."""
    corpus = [("d1", "Cats purr when they are content."), ("d2", "Dogs bark at night."),
              ("d3", "Stock markets fell sharply on Monday.")]
    queries = [("q1", "why do cats purr"), ("q2", "dogs bark at night"),
               ("q3", "stock markets fell")]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": "", "text": t}) + "\n" for i, t in corpus))
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    return folder


def _client(home: Path):  # type: ignore[no-untyped-def]
    import mlflow

    return mlflow.MlflowClient(tracking_uri(home))


def test_log_eval_run_records_params_metrics_and_artifacts(home: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.jsonl"
    data.write_text('{"q": 1}\n')
    run = log_eval_run(
        "eval demo", params={"model": {"id": "hash-64"}, "k": 3},
        metrics={"hybrid": {"ndcg@10": 0.75, "name": "skipped"}},
        artifacts={"result.json": {"ok": True}, "items.jsonl": [{"id": 1}, {"id": 2}]},
        dataset=data, home=home,
    )
    assert run.tracking_uri == f"sqlite:///{home.resolve()}/mlflow/mlflow.db"
    assert (home / "mlflow" / "mlflow.db").is_file()
    got = _client(home).get_run(run.run_id)
    assert got.data.metrics == {"hybrid.ndcg_at_10": 0.75}
    assert got.data.params["model.id"] == "hash-64" and got.data.params["k"] == "3"
    assert len(got.data.params["dataset.sha256"]) == 64
    assert got.data.params["dataset.path"] == str(data)
    assert got.data.tags["ponder.command"] == "eval demo"
    assert got.info.status == "FINISHED"
    names = {a.path for a in _client(home).list_artifacts(run.run_id)}
    assert names == {"result.json", "items.jsonl", "metrics.png"}
    # artifacts live beside the store, never in the working directory
    assert got.info.artifact_uri.startswith((home / "mlflow" / "artifacts").resolve().as_uri())
    local = Path(got.info.artifact_uri.removeprefix("file://"))
    assert (local / "items.jsonl").read_text().splitlines() == ['{"id": 1}', '{"id": 2}']


def test_tracking_uri_env_is_respected(home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.ops.testing import fresh_store

    uri = fresh_store(tmp_path / "elsewhere")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run = log_eval_run("eval demo", params={}, metrics={"f1": 0.5}, home=home, plot=False)
    assert run.tracking_uri == uri
    assert (tmp_path / "elsewhere" / "artifacts" / "ponder-eval").is_dir()
    assert not (home / "mlflow" / "artifacts").exists()


def test_an_evaluation_without_numbers_is_refused(home: Path) -> None:
    with pytest.raises(ConfigError, match="no numeric metric"):
        log_eval_run("eval demo", params={}, metrics={"note": "x"}, home=home)


def test_eval_retrieval_with_mlflow_logs_one_run(home: Path, tmp_path: Path) -> None:
    folder = make_beir(tmp_path / "beir_tiny")
    r = CliRunner().invoke(app, ["eval", "retrieval", "--beir", str(folder), "--embedder",
                                 "hash", "--retrieval", "dense,hybrid", "--mlflow"])
    assert r.exit_code == 0, r.output
    client = _client(home)
    exp = client.get_experiment_by_name("ponder-eval")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert set(run.data.metrics) >= {"dense.ndcg_at_10", "hybrid.ndcg_at_10",
                                     "hybrid.recall_at_100", "hybrid.mrr_at_10"}
    p = run.data.params
    assert p["collection"] == "beir-tiny" and p["embedder_id"] == "hash-64"
    assert p["retrieval"] == "dense,hybrid" and p["index.kind"] == "flat"
    assert len(p["dataset.sha256"]) == 64 and p["queries"] == "3"
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"result.json", "results.md", "per_query.jsonl", "metrics.png"} <= arts
    assert "mlflow: logged run" in r.output


def test_eval_qa_with_mlflow_logs_one_run(home: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_EMBEDDER", "hash")
    squad = {"data": [{"title": "Tea", "paragraphs": [
        {"context": "Tea is a drink made from the leaves of Camellia sinensis.",
         "qas": [{"id": "q1", "question": "What plant is tea made from?",
                  "answers": [{"text": "Camellia sinensis", "answer_start": 38}]}]}]}]}
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps(squad))
    r = CliRunner().invoke(app, ["eval", "qa", "--squad", str(f), "--model", "fake", "-k", "1",
                                 "--no-closed-book", "--answer", "generative", "--mlflow"])
    assert r.exit_code == 0, r.output
    client = _client(home)
    (run,) = client.search_runs([client.get_experiment_by_name("ponder-eval").experiment_id])
    assert run.data.params["models"] == '["fake"]' and run.data.params["chain"] == "stuff"
    assert len(run.data.params["dataset.sha256"]) == 64
    assert "fake rag k_1 stuff generative.f1" in run.data.metrics
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"result.json", "records.json", "metrics.png"} <= arts


def test_every_eval_command_takes_mlflow() -> None:
    import inspect

    from ponder.cli.eval import eval_app

    names = {c.name or c.callback.__name__: c.callback for c in eval_app.registered_commands}
    missing = sorted(n for n, cb in names.items()
                     if "mlflow" not in inspect.signature(cb).parameters)
    assert "retrieval" in names and missing == [], missing
