"""``ponder index build | show | advise`` and the advisor behind it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.store import advisor
from ponder.store.advisor import advise
from ponder.store.collection import Collection

DIM = 16


pytestmark = pytest.mark.usefixtures("one_faiss_thread")


@pytest.fixture
def docs(home):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, DIM))
    x = (centres[rng.integers(0, 6, 500)] + 0.3 * rng.normal(size=(500, DIM))).astype(np.float32)
    col = Collection.create("docs", home=home, embedder=False, dim=DIM)
    col.add(ids=[f"v{i}" for i in range(500)], embeddings=x)
    col.close()
    return home


def run(home, *args: str) -> str:
    result = CliRunner().invoke(app, ["--home", str(home), "index", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_build_and_show(docs):
    out = run(docs, "build", "--collection", "docs", "--type", "hnsw", "--m", "8", "--json")
    assert json.loads(out)["params"] == {"m": 8}
    info = json.loads(run(docs, "show", "-c", "docs", "--json"))
    assert info["kind"] == "hnsw" and info["vectors"] == 500 and info["notice"] is None
    with Collection.open("docs", home=docs) as col:
        assert col.info()["index"] == "hnsw"


def test_build_refuses_bad_settings_with_a_clear_error(docs):
    result = CliRunner().invoke(
        app, ["--home", str(docs), "index", "build", "-c", "docs", "--type", "pq", "--metric", "l1"]
    )
    assert result.exit_code != 0
    assert "does not support metric 'l1'" in str(result.exception)


def test_advise_measures_plots_and_applies(docs, tmp_path):
    png = tmp_path / "advice.png"
    out = run(docs, "advise", "-c", "docs", "--recall", "0.9", "--queries", "15",
              "--plot", str(png), "--apply", "--json")  # fmt: skip
    advice = json.loads(out)
    kinds = {m["kind"] for m in advice["measurements"]}
    assert {"flat", "hnsw", "ivf", "pq", "ivf-pq"} <= kinds
    assert png.stat().st_size > 1000
    pick = advice["pick"]
    assert pick["recall"] >= 0.9 and advice["applied"]["index"] == pick["kind"]
    flat = next(m for m in advice["measurements"] if m["kind"] == "flat")
    assert flat["recall"] == 1.0 and any(m["pareto"] for m in advice["measurements"])


def test_advise_falls_back_to_exact_when_no_candidate_reaches_the_target(docs, monkeypatch):
    grid = [("flat", {}, "", [None]), ("pq", {"m": 2, "nbits": 4}, "rerank", [0])]
    monkeypatch.setattr(advisor, "_grid", lambda n, dim, metric: grid)
    with Collection.open("docs", home=docs) as col:
        advice = advise(col, recall=1.0, queries=30)
    assert advice.pick.kind == "flat" and advice.pick.recall == 1.0
    with Collection.open("docs", home=docs) as col, pytest.raises(ValueError, match="recall"):
        advise(col, recall=1.5)
