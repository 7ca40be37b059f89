"""The task pipelines on the real embedded models (SmolLM2-135M, MiniLM) and, where present,
the shared data sets. Assertions are about behaviour the small model reliably shows, not
about its accuracy (that is measured by bench/tasks.py)."""

from __future__ import annotations

import pytest

from ponder.evaluate.tasks_eval import (
    datasets_dir,
    eval_sentiment,
    eval_summarization,
    eval_translation,
    to_markdown,
)
from ponder.llm import load_generator
from ponder.tasks import pipeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def llm():
    return load_generator("smollm2", n_threads=1)


def test_sentiment_scores_follow_the_text(llm) -> None:
    s = pipeline("sentiment", method="llm", model=llm)
    good, bad = s(["I love this, it is wonderful!", "This is terrible, I hate it."])
    for r in (good, bad):
        assert set(r["scores"]) == {"positive", "negative", "neutral"}
        assert sum(r["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert good["scores"]["positive"] > bad["scores"]["positive"]
    assert bad["scores"]["negative"] > good["scores"]["negative"]


def test_zero_shot_by_embedding_with_minilm() -> None:
    clf = pipeline("classify", labels="sports,cooking,politics", method="embedding")
    r = clf("The striker scored twice in the second half and the fans cheered.")
    assert r["label"] == "sports"


def test_abstractive_summary_and_map_reduce(llm) -> None:
    text = " ".join(
        f"In week {i}, the town library added {i * 10} new books and extended its hours."
        for i in range(1, 13)
    )
    s = pipeline("summarization", model=llm, method="abstractive", max_length=20,
                 chunk_tokens=80)
    r = s(text)
    assert r["chunks"] > 1
    assert r["summary"] and len(r["summary"].split()) <= 20


def test_translation_runs_and_says_the_model_is_small(llm) -> None:
    r = pipeline("translation", model=llm, target="de", max_new_tokens=24)("Good morning.")
    assert r["target"] == "de" and isinstance(r["translation"], str)
    assert "too small to translate" in r["note"]


def test_fewshot_stops_at_the_separator(llm) -> None:
    fs = pipeline(
        "few-shot",
        model=llm,
        examples=[("France", "Paris"), ("Germany", "Berlin"), ("Spain", "Madrid")],
        instruction="Give the capital city.",
        input_prefix="Country: ",
        output_prefix="Capital: ",
        max_new_tokens=12,
    )
    r = fs("Italy")
    assert r["output"] and "###" not in r["output"] and "Country:" not in r["output"]


needs_data = pytest.mark.skipif(
    not datasets_dir().exists(), reason=f"shared data sets not found at {datasets_dir()}"
)


@pytest.mark.dataset
@needs_data
def test_eval_sentiment_on_a_few_tweets(llm) -> None:
    res = eval_sentiment(6, seed=1, model=llm, llm_n=3)
    names = [s["system"] for s in res["systems"]]
    assert names[0].startswith("majority class") and "head (default)" in names
    assert "embedding" in names and "llm, first 3" in names
    assert all(0.0 <= s["accuracy"] <= 1.0 for s in res["systems"])
    assert "| llm, first 3 |" in to_markdown(res)


@pytest.mark.dataset
@needs_data
def test_eval_summarization_baselines_without_llm() -> None:
    res = eval_summarization(4, seed=1, abstractive_n=0)
    systems = {s["system"]: s for s in res["systems"]}
    assert set(systems) == {"lead-3 (baseline)", "extractive"}
    assert all(0 < s["rouge1"] < 1 for s in systems.values())


@pytest.mark.dataset
@needs_data
def test_eval_translation_on_two_sentences(llm) -> None:
    res = eval_translation(2, seed=1, model=llm, max_new_tokens=32)
    assert res["systems"][0]["system"] == "copy source (baseline)"
    assert 0 <= res["systems"][1]["chrf"] <= 100


# ------------------------------------------------------------------ the trained heads


@pytest.fixture(scope="module")
def minilm():
    from ponder.embed import load_embedder

    return load_embedder("minilm")


def test_sentiment_head_gets_the_complaint_negative() -> None:
    s = pipeline("sentiment")
    r = s("The food was cold and the waiter ignored us.")
    assert r["label"] == "negative" and r["method"] == "head"
    assert "TweetEval" in r["method_detail"]
    assert s("What a wonderful evening, the staff were lovely!")["label"] == "positive"


def test_sentiment_cli_plain_form_says_negative_and_the_method() -> None:
    from typer.testing import CliRunner

    from ponder.cli.main import app

    r = CliRunner().invoke(app, ["sentiment", "The food was cold and the waiter ignored us."])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("negative\t")
    assert "method: head (SmolLM2-135M hidden states" in r.stdout


def test_toxicity_head_with_minilm(minilm) -> None:
    from ponder.safety.toxic import toxicity

    rude, kind = toxicity(["Shut up, you worthless idiot.", "Thanks for the lovely dinner!"],
                          embedder=minilm)
    assert rude.label == "toxic" and kind.label == "ok"
    assert rude.score > 0.5 > kind.score and rude.method == "head"


@pytest.mark.dataset
@needs_data
def test_eval_toxicity_writes_json_markdown_and_png(tmp_path) -> None:
    from ponder.evaluate.toxicity_eval import eval_toxicity, write_outputs

    res = eval_toxicity("offensive", limit=80)
    names = [s["system"] for s in res["systems"]]
    assert names[:2] == ["majority class (not-offensive)", "head (default)"]
    assert "RoBERTa-Retrained (published)" in names
    majority, head = res["systems"][:2]
    assert res["n"] == 80 and majority["macro_f1"] < head["macro_f1"] <= 1
    written = write_outputs(res, tmp_path / "tox.json")
    assert [p.suffix for p in written] == [".json", ".md", ".png"]
    assert written[2].read_bytes()[:4] == b"\x89PNG"
