"""``ponder spark embed|ingest|answer`` in their plain terminal form, with the fakes (hash
embedder, scripted model), on the shared local[2] session; and the bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.embed.fake import HashEmbedder
from ponder.errors import BackendUnavailableError, InputError
from ponder.store.collection import Collection

pytestmark = pytest.mark.integration

ROWS = [
    {"id": "r1", "text": "Tea is made from the leaves of Camellia sinensis.", "year": 2020},
    {"id": "r2", "text": "Coffee beans are roasted seeds.\n\nThey come from Ethiopia.",
     "year": 2021},
    {"id": "r3", "text": "The Nile flows north into the Mediterranean Sea.", "year": 2022},
]


@pytest.fixture
def rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PONDER_EMBEDDER", "hash")
    monkeypatch.setenv("PONDER_MODEL", "fake")
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_spark_embed_writes_the_embedders_vectors(spark: Any, rows: Path,
                                                  tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "vectors.parquet"
    r = cli("spark", "embed", "--input", str(rows), "--output", str(out), "--embedder", "hash")
    assert r.exit_code == 0, r.output
    assert "embedded 3 rows with hash" in r.output
    frame = pd.read_parquet(out).sort_values("id")
    want = HashEmbedder().embed(frame["text"].tolist())
    np.testing.assert_allclose(np.stack(frame["embedding"].to_numpy()), want, rtol=1e-6)


def test_spark_ingest_then_answer_in_plain_form(spark: Any, rows: Path, tmp_path: Path,
                                                home: Path) -> None:
    r = cli("spark", "ingest", "--input", str(rows), "--collection", "kb",
            "--metadata-cols", "year")
    assert r.exit_code == 0, r.output
    assert "3 added, 0 updated, 0 unchanged of 3 rows" in r.output
    with Collection.open("kb", home=home) as c:
        assert c.count() == 3 and c.get(["r1:0"])[0].metadata == {"year": 2020}
    r = cli("spark", "ingest", "--input", str(rows), "--collection", "kb", "--metadata-cols",
            "year")
    assert r.exit_code == 0 and "0 added, 0 updated, 3 unchanged" in r.output
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "What is tea made from?"}\n')
    out = tmp_path / "answers.jsonl"
    r = cli("spark", "answer", "--input", str(questions), "--output", str(out),
            "--collection", "kb", "--answer", "generative")
    assert r.exit_code == 0, r.output
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["answer"] == "This is a scripted reply." and row["status"] == "answered"
    assert row["mode"] == "generative" and isinstance(row["unsupported"], list)


def test_bad_inputs_name_the_problem(spark: Any, rows: Path, tmp_path: Path) -> None:
    r = cli("spark", "embed", "--input", str(rows), "--output", str(tmp_path / "o.parquet"),
            "--text-col", "body")
    assert isinstance(r.exception, InputError)
    assert "no column 'body'" in str(r.exception) and "'text'" in str(r.exception)
    r = cli("spark", "ingest", "--input", str(tmp_path / "none.jsonl"), "-c", "kb")
    assert isinstance(r.exception, InputError) and "not found" in str(r.exception)


def test_java_missing_is_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.spark import session

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(session.shutil, "which", lambda name: None)
    with pytest.raises(BackendUnavailableError, match=r"Java not found.*openjdk-17-jre-headless"):
        session.check_java()


def test_chunk_udf_makes_the_chunks_of_the_chunker(spark: Any) -> None:
    from ponder.ingest import chunk_document
    from ponder.spark import chunk_udf
    from ponder.spark.udfs import row_document

    long = " ".join(f"word{i}" for i in range(300))
    df = spark.createDataFrame([("d1", long), ("d2", "Short text.")], ["id", "text"])
    rows = {r["id"]: r["c"] for r in df.withColumn(
        "c", chunk_udf("hash", chunk_tokens=64, chunk_overlap=8)("id", "text")).collect()}
    for doc_id, text in (("d1", long), ("d2", "Short text.")):
        want = chunk_document(row_document(doc_id, text), HashEmbedder().tokenize, 64, 8)
        got = rows[doc_id]
        assert [(c["id"], c["text"], c["start"], c["end"]) for c in got] == [
            (c.id, c.text, c.start, c.end) for c in want]
    assert len(rows["d1"]) > 1
