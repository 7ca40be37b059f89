"""Spark jobs with the real models on local[2]: ``embed_udf`` vectors equal the in-process
ones, ``ponder.spark.ingest`` makes the chunks ``ponder ingest`` makes, ``answer_udf`` answers
as ``ask`` (greedy), and ``mlflow.pyfunc.spark_udf`` scores questions with the registered
model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ponder.errors import InputError
from ponder.store.collection import Collection

pytestmark = pytest.mark.integration

LONG = " ".join(f"Sentence {i} describes how the csv module reads row {i} of a file."
                for i in range(60))
ROWS = [
    {"id": "a", "text": "Tea is made from the leaves of the Camellia sinensis plant.",
     "topic": "tea"},
    {"id": "b", "text": "Coffee beans are roasted seeds.\n\nThey come from Ethiopia.",
     "topic": "coffee"},
    {"id": "c", "text": LONG, "topic": "csv"},
]
# the fence boundary is random per request, so token-level identity needs the unfenced prompt
OPTIONS = {"max_new_tokens": 12, "answer": "generative", "defense": "none", "min_score": -1}
QUESTIONS = ["What is tea made from?", "Where does coffee come from?"]


@pytest.fixture(scope="module")
def minilm() -> Any:
    from ponder.embed import load_embedder

    emb = load_embedder("minilm")
    try:
        emb.embed(["probe"])
    except Exception as e:  # pragma: no cover - the model is part of make test
        pytest.skip(f"MiniLM unavailable: {e}")
    return emb


def test_embed_udf_equals_in_process(spark: Any, minilm: Any) -> None:
    from ponder.spark import embed_udf

    texts = [r["text"] for r in ROWS] + ["a", "Spark runs Python UDFs in worker processes."]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], ["i", "text"])
    got = df.repartition(2).withColumn("v", embed_udf("minilm")("text")).toPandas()
    got = got.sort_values("i")
    spark_vecs = np.stack([np.asarray(v, dtype=np.float32) for v in got["v"]])
    local = minilm.embed(texts)
    cos = (spark_vecs * local).sum(1) / (np.linalg.norm(spark_vecs, axis=1)
                                          * np.linalg.norm(local, axis=1))
    assert cos.min() >= 0.9999, cos


def test_spark_ingest_gives_the_chunks_of_ponder_ingest(spark: Any, minilm: Any,
                                                         tmp_path: Path, home: Path) -> None:
    import ponder.spark

    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with Collection.create("files", home=home, embedder="minilm") as c:
        c.ingest([path])
        file_chunks = sorted((ch.doc_id.rsplit("=", 1)[1], ch.ordinal, ch.text, ch.start,
                              ch.end) for ch in c.get())
    df = spark.read.json(str(path))
    report = ponder.spark.ingest(df, "frames", text_col="text", id_col="id",
                                 metadata_cols=["topic"], home=home, embedder="minilm")
    assert (report.added, report.updated, report.unchanged) == (3, 0, 0)
    with Collection.open("frames", home=home) as c:
        spark_chunks = sorted((str("abc".index(ch.doc_id) + 1), ch.ordinal, ch.text, ch.start,
                               ch.end) for ch in c.get())
        assert len(spark_chunks) > 3  # the long row is cut in several chunks
        assert spark_chunks == file_chunks
        hit = c.search("Which plant gives tea leaves?", k=1)[0]
        assert hit.chunk.doc_id == "a" and hit.chunk.metadata == {"topic": "tea"}
        v_spark = c.catalog.vectors_by_pk(list(c.catalog.pks_for_ids(["a:0"]).values()))
    with Collection.open("files", home=home) as c:
        ids = [ch.id for ch in c.get() if ch.doc_id.endswith("#row=1")]
        v_file = c.catalog.vectors_by_pk(list(c.catalog.pks_for_ids(ids).values()))
    a, b = next(iter(v_spark.values())), next(iter(v_file.values()))
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) >= 0.9999
    again = ponder.spark.ingest(df, "frames", text_col="text", id_col="id",
                                metadata_cols=["topic"], home=home)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    changed = spark.createDataFrame([("a", "Green tea is not oxidised.", "tea")],
                                    ["id", "text", "topic"])
    third = ponder.spark.ingest(changed, "frames", text_col="text", id_col="id",
                                metadata_cols=["topic"], home=home)
    assert (third.added, third.updated) == (0, 1)
    with pytest.raises(InputError, match="no column 'body'"):
        ponder.spark.ingest(df, "frames", text_col="body", id_col="id", home=home)


def test_answer_udf_equals_ask(spark: Any, minilm: Any, tmp_path: Path, home: Path) -> None:
    from ponder.llm import load_generator
    from ponder.rag.ask import ask
    from ponder.spark import answer_udf, snapshot_for_spark

    try:
        load_generator("smollm2").count_tokens("probe")
    except Exception as e:  # pragma: no cover
        pytest.skip(f"default model unavailable: {e}")
    with Collection.create("kb", home=home, embedder="minilm") as c:
        c.add(ids=[r["id"] for r in ROWS], texts=[r["text"] for r in ROWS])
    snap = snapshot_for_spark("kb", tmp_path / "snap", home=home)
    udf = answer_udf(model="smollm2", **snap, **OPTIONS)
    df = spark.createDataFrame([(q,) for q in QUESTIONS], ["question"]).coalesce(1)
    rows = df.withColumn("a", udf("question")).select("question", "a.*").collect()
    with Collection.open("kb", home=home) as col:
        for row in rows:
            a = ask(row["question"], collection=col, model="smollm2", **OPTIONS)
            assert row["answer"] == a.text and row["status"] == a.status
            assert json.loads(row["citations"]) == [c.to_dict() for c in a.citations]
            assert list(row["unsupported"]) == a.unsupported
    # a snapshot that is not the version expected: the check each worker runs first
    from ponder.spark.udfs import _service

    with pytest.raises(InputError, match="changed since the snapshot"):
        _service(snap["snapshot"], "smollm2", OPTIONS, snap["expected_version"] + 1)


def test_spark_udf_scores_with_the_registered_model(spark: Any, minilm: Any, home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    import mlflow

    from ponder.ops.model import log_rag_model
    from ponder.ops.registry import promote
    from ponder.rag.ask import ask

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{home / 'mlflow.db'}")
    with Collection.create("kb", home=home, embedder="minilm") as c:
        c.add(ids=[r["id"] for r in ROWS], texts=[r["text"] for r in ROWS])
    opts = {**OPTIONS, "answer": "extractive"}  # no generator in the executors: quick
    logged = log_rag_model("kb", "kb-rag", model="smollm2", ask_options=opts, home=home)
    promote("kb-rag", logged.version, "champion", home=home)
    udf = mlflow.pyfunc.spark_udf(spark, "models:/kb-rag@champion", env_manager="local")
    df = spark.createDataFrame([(q,) for q in QUESTIONS], ["question"]).coalesce(1)
    rows = df.withColumn("out", udf("question")).select("question", "out.*").collect()
    with Collection.open("kb", home=home) as col:
        for row in rows:
            a = ask(row["question"], collection=col, model="smollm2", **opts)
            assert row["answer"] == a.text and row["mode"] == "extractive"
            assert json.loads(row["lineage"])["catalog_version"] == logged.lineage.catalog_version


def test_task_udfs_equal_the_pipelines(spark: Any, minilm: Any) -> None:
    from ponder.spark import classify_udf, sentiment_udf, summarize_udf
    from ponder.tasks import pipeline

    texts = ["I loved the tea. It was great.", "The Nile flows north. It is very long."]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], ["i", "text"])
    out = (df.coalesce(1)
           .withColumn("s", sentiment_udf(model="fake")("text"))
           .withColumn("c", classify_udf(["tea", "rivers"], model="fake")("text"))
           .withColumn("m", summarize_udf(model="fake")("text"))
           .orderBy("i").collect())
    sent = pipeline("sentiment-analysis", model="fake")(texts)
    clf = pipeline("zero-shot-classification", model="fake", labels=["tea", "rivers"])(texts)
    summ = pipeline("summarization", model="fake")(texts)
    for row, s, c, m in zip(out, sent, clf, summ, strict=True):
        assert (row["s"]["label"], json.loads(row["s"]["result"])) == (s["label"], s)
        assert row["c"]["label"] == c["label"] and row["c"]["score"] == pytest.approx(c["score"])
        assert row["m"] == m["summary"]
