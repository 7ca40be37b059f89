"""The RAG app as a registered MLflow model, with the fakes: log-model, promote with gates,
compare, lineage, load by alias; and the bad inputs, each one clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("mlflow")

from ponder.cli.main import app
from ponder.errors import InputError, ModelNotFoundError
from ponder.ops.tracking import log_eval_run, tracking_uri
from ponder.store.collection import Collection

TEXTS = {
    "tea": "Tea is made from the leaves of the Camellia sinensis plant.",
    "csv": "csv.DictReader reads each row of a CSV file into a dictionary keyed by the header.",
}


@pytest.fixture
def kb(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ponder.ops.testing import fresh_store

    fresh_store(home / "mlflow")  # the default store, its tables made once per test run
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("PONDER_EMBEDDER", "hash")
    monkeypatch.setenv("PONDER_MODEL", "fake")
    with Collection.create("kb", home=home, embedder="hash") as c:
        c.add(ids=list(TEXTS), texts=list(TEXTS.values()))
    return home


def cli(*args: str) -> tuple[int, str, BaseException | None]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.output, r.exception


def log(name: str = "kb-rag", *extra: str) -> dict:  # type: ignore[type-arg]
    code, out, exc = cli("ops", "log-model", "--collection", "kb", "--name", name,
                         "--model", "fake", "--option", "min_score=-1", "--json", *extra)
    assert code == 0, (out, exc)
    return json.loads(out)


def test_log_model_registers_a_version_with_its_lineage(kb: Path) -> None:
    code, out, exc = cli("ops", "log-model", "-c", "kb", "--name", "kb-rag", "--model", "fake",
                         "--k", "2", "--retrieval", "bm25")
    assert code == 0, (out, exc)
    assert "registered kb-rag version 1" in out and "catalog version" in out
    second = log()
    assert second["version"] == "2" and second["generator_copied"] is False
    lin = second["lineage"]
    with Collection.open("kb", home=kb) as c:
        version = c.info()["catalog_version"]
    assert (lin["collection"], lin["catalog_version"], lin["embedder_id"]) == (
        "kb", version, "hash-64")
    assert lin["generator_id"] == "scripted" and len(lin["prompt_template_version"]) == 16
    assert lin["ask_options"] == {"min_score": -1}
    code, out, _ = cli("ops", "lineage", "kb-rag", "--version", "1")
    assert code == 0 and "hash-64" in out and "unchanged since the snapshot" in out
    assert "{'k': 2, 'retrieval': 'bm25'}" in out
    # the collection changes: the lineage says so, and that the model answers from its snapshot
    with Collection.open("kb", home=kb) as c:
        c.add(ids=["new"], texts=["Coffee comes from Ethiopia."])
    code, out, _ = cli("ops", "lineage", "kb-rag", "--version", "1", "--json")
    info = json.loads(out)
    assert info["live_collection_version"] == version + 1
    assert "changed since the snapshot" in info["collection_state"]


def test_promote_with_a_passing_and_a_failing_gate(kb: Path) -> None:
    run = log_eval_run("eval retrieval", params={"collection": "kb"},
                       metrics={"hybrid": {"ndcg@10": 0.8}}, home=kb, plot=False)
    logged = log("kb-rag", "--eval-run", "latest")
    assert logged["eval_run_id"] == run.run_id
    code, out, exc = cli("ops", "promote", "kb-rag", "--version", "1", "--alias", "champion",
                         "--if", "ndcg_at_10>=0.70", "--reason", "beats baseline", "--by", "ci")
    assert code == 0, (out, exc)
    assert "now champion" in out and "hybrid.ndcg_at_10=0.8000" in out
    code, out, _ = cli("ops", "promote", "kb-rag", "--version", "1", "--alias", "challenger",
                       "--if", "ndcg_at_10>=0.90")
    assert code == 1 and "not promoted" in out
    import mlflow

    client = mlflow.MlflowClient(tracking_uri(kb))
    rm = client.get_registered_model("kb-rag")
    assert {a: str(v) for a, v in rm.aliases.items()} == {"champion": "1"}
    tags = client.get_model_version("kb-rag", "1").tags
    assert tags["ponder.promoted.champion.by"] == "ci"
    assert tags["ponder.promoted.champion.reason"] == "beats baseline"
    assert "0.8" in tags["ponder.promoted.champion.gate"]
    assert json.loads(tags["ponder.refused.challenger"])["gate"] == "ndcg_at_10>=0.9"
    log("kb-rag")  # version 2, no evaluation run: a gate on it is refused with the fix
    code, _, exc = cli("ops", "promote", "kb-rag", "--version", "2", "--if", "f1>0")
    assert code != 0 and "no evaluation run" in str(exc)
    code, out, _ = cli("ops", "compare", "kb-rag")
    assert code == 0 and "champion" in out and "hybrid.ndcg_at_10" in out and "0.8000" in out
    code, out, _ = cli("ops", "compare", "kb-rag", "--json")
    rows = json.loads(out)
    assert [r["version"] for r in rows] == ["2", "1"] and rows[1]["aliases"] == ["champion"]


def test_the_model_loaded_by_alias_answers_like_ask(kb: Path) -> None:
    import mlflow
    import pandas as pd

    from ponder.ops.model import load_rag_model
    from ponder.rag.ask import ask

    log()
    assert cli("ops", "promote", "kb-rag", "--version", "1")[0] == 0
    questions = ["What is tea made from?", "How do I read a CSV file with a header?"]
    model = mlflow.pyfunc.load_model("models:/kb-rag@champion")
    out = model.predict(pd.DataFrame({"question": questions}))
    assert list(out.columns) == ["question", "answer", "status", "mode", "citations",
                                 "unsupported", "lineage"]
    with Collection.open("kb", home=kb) as col:
        for q, row in zip(questions, out.to_dict("records"), strict=True):
            a = ask(q, collection=col, model="fake", min_score=-1)
            assert row["answer"] == a.text and row["status"] == a.status
            assert json.loads(row["citations"]) == [c.to_dict() for c in a.citations]
            assert json.loads(row["unsupported"]) == a.unsupported
            assert json.loads(row["lineage"])["catalog_version"] == col.info()["catalog_version"]
    service = load_rag_model("models:/kb-rag/1")  # what a server uses: the full Answer
    assert service.answer(questions[0]).text == out["answer"][0]
    with pytest.raises(mlflow.exceptions.MlflowException, match=r"missing inputs \['question'\]"):
        model.predict(pd.DataFrame({"q": ["x"]}))  # MLflow checks the logged signature
    with pytest.raises(InputError, match="no 'question' column"):
        service.predict(pd.DataFrame({"q": ["x"]}))


def test_bad_references_get_one_clear_message(kb: Path) -> None:
    from ponder.ops.model import load_rag_model

    with pytest.raises(ModelNotFoundError, match=r"no registered model 'nope'.*log-model"):
        load_rag_model("models:/nope@champion")
    log()
    with pytest.raises(ModelNotFoundError, match=r"no alias 'champion'.*ops promote"):
        load_rag_model("models:/kb-rag@champion")
    code, _, exc = cli("ops", "lineage", "kb-rag", "--version", "7")
    assert code != 0 and "has no version 7 (versions: 1)" in str(exc)
    code, _, exc = cli("ops", "promote", "kb-rag", "--version", "1", "--alias", "boss")
    assert code != 0 and "champion, challenger" in str(exc)
    code, _, exc = cli("ops", "log-model", "-c", "missing", "--name", "x", "--model", "fake")
    assert code != 0 and "no collection 'missing'" in str(exc)
    code, _, exc = cli("ops", "log-model", "-c", "kb", "--name", "x", "--model", "fake",
                       "--option", "colour=blue")
    assert code != 0 and "unknown ask option" in str(exc)


def test_a_changed_snapshot_is_refused(kb: Path, tmp_path: Path) -> None:
    from ponder.ops.snapshot import open_snapshot, snapshot_collection

    snap = snapshot_collection("kb", tmp_path / "snap", home=kb)
    with open_snapshot(snap.folder) as col:
        col.add(ids=["x"], texts=["written into the snapshot"])
    with pytest.raises(InputError, match="changed since it was taken"):
        open_snapshot(snap.folder)


def test_ponder_serve_answers_ask_with_the_registered_model(kb: Path) -> None:
    """``ponder serve --mlflow-model``: /v1/ask on the model's collection is answered by the
    model (its snapshot, generator and options), even after the live collection is gone."""
    import httpx

    from ponder.llm.fake import ScriptedGenerator
    from ponder.ops.model import load_rag_model
    from ponder.server.app import create_app
    from ponder.server.live import LiveServer
    from ponder.server.state import ServerConfig

    log()
    code, out, exc = cli("ops", "promote", "kb-rag", "--version", "1", "--alias", "champion")
    assert code == 0, (out, exc)
    uri = "models:/kb-rag@champion"
    expected = load_rag_model(uri).answer("How does csv read a header?", answer="generative")
    Collection.drop("kb", home=kb)
    config = ServerConfig(home=str(kb), model=ScriptedGenerator(["The server's own model."]),
                          embedder="hash", mlflow_model=uri, preload=False)
    with LiveServer(create_app(config)) as srv:
        r = httpx.post(f"{srv.url}/v1/ask", timeout=60, json={
            "question": "How does csv read a header?", "collection": "kb",
            "answer": "generative"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == expected.text == "This is a scripted reply."
    assert [c["chunk_id"] for c in body["citations"]] == [c.chunk_id for c in expected.citations]


def test_serve_with_an_unknown_registered_model_is_one_clear_error(kb: Path) -> None:
    code, out, exc = cli("serve", "--mlflow-model", "models:/nope@champion", "--port", "8765")
    assert code != 0
    assert isinstance(exc, ModelNotFoundError) and "nope" in str(exc), (out, exc)
