"""The registered RAG model with the real models (MiniLM, SmolLM2-135M): loaded by alias in a
fresh process it answers as ``ask`` does (greedy), and ``mlflow models serve`` serves it on
loopback. One collection, one store and one logged model for the module."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

pytestmark = pytest.mark.integration

TEXTS = {
    "csv": "csv.DictReader reads each row of a CSV file into a dictionary keyed by the header "
           "row. Use it to read a CSV file that has a header row.",
    "json": "json.loads parses a JSON document from a string and returns Python objects.",
    "tea": "Tea is made from the leaves of the Camellia sinensis plant.",
}
QUESTIONS = ["How do I read a CSV file with a header row?", "What is tea made from?"]
BOUNDARY = "c0ffee42"  # pinned in both processes: the fence boundary is random per request
OPTIONS = {"max_new_tokens": 16, "answer": "generative"}


def _pin(n: int) -> str:
    return (BOUNDARY * 8)[: 2 * n]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A home with the collection, a local MLflow store, and version 1 as champion."""
    from ponder.llm import load_generator
    from ponder.ops.model import log_rag_model
    from ponder.ops.registry import promote
    from ponder.store.collection import Collection

    try:
        load_generator("smollm2").count_tokens("probe")
    except Exception as e:  # pragma: no cover - the model package is part of make test
        pytest.skip(f"default model unavailable: {e}")
    home = tmp_path_factory.mktemp("ops-home")
    env = {"PONDER_HOME": str(home),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("PONDER_EMBEDDER", raising=False)
        with Collection.create("docs", home=home, embedder="minilm") as c:
            c.add(ids=list(TEXTS), texts=list(TEXTS.values()))
        logged = log_rag_model("docs", "docs-rag", model="smollm2", ask_options=OPTIONS,
                               home=home)
        assert promote("docs-rag", logged.version, "champion", home=home).promoted
        yield env


def test_loaded_by_alias_in_a_fresh_process_it_answers_as_ask(
    store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ponder.rag.ask import ask
    from ponder.store.collection import Collection

    script = (
        "import json, secrets, sys\n"
        f"secrets.token_hex = lambda n: ({BOUNDARY!r} * 8)[: 2 * n]\n"
        "import mlflow, pandas as pd\n"
        "m = mlflow.pyfunc.load_model('models:/docs-rag@champion')\n"
        "out = m.predict(pd.DataFrame({'question': json.loads(sys.argv[1])}))\n"
        "print(json.dumps(out.to_dict('records')))\n"
    )
    r = subprocess.run([sys.executable, "-c", script, json.dumps(QUESTIONS)],
                       capture_output=True, text=True, timeout=300,
                       env={**os.environ, **store})
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    for k, v in store.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("secrets.token_hex", _pin)
    with Collection.open("docs", home=store["PONDER_HOME"]) as col:
        for q, row in zip(QUESTIONS, rows, strict=True):
            a = ask(q, collection=col, model="smollm2", **OPTIONS)
            assert row["answer"] == a.text, (row, a.text)
            assert json.loads(row["citations"]) == [c.to_dict() for c in a.citations]
            assert json.loads(row["unsupported"]) == a.unsupported
            lineage = json.loads(row["lineage"])
            assert lineage["embedder_id"] == "all-MiniLM-L6-v2"
            assert len(lineage["generator_sha256"]) == 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mlflow_models_serve_answers_on_loopback(store: dict[str, str], tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/docs-rag@champion",
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        # mlflow starts `uvicorn` by name: the interpreter's bin folder goes first on PATH
        env={**os.environ, **store,
             "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(1)
        body = json.dumps({"dataframe_records": [{"question": QUESTIONS[1]}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            out = json.loads(resp.read())
        (row,) = out["predictions"]
        assert row["question"] == QUESTIONS[1] and row["answer"].strip()
        assert row["status"] in ("answered", "no_answer")
        assert json.loads(row["lineage"])["collection"] == "docs"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        log.close()
