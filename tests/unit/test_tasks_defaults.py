"""Task defaults are the measured-best methods and say which one ran: summarize (auto ->
extractive unless the model beat lead-3), zero-shot (embedding), and the toxicity commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.evaluate.toxicity_eval import PUBLISHED, to_markdown
from ponder.tasks import pipeline
from ponder.tasks.head import EmbeddingHead
from ponder.tasks.summarize import choose_method, load_figures
from ponder.testing import HashEmbedder, ScriptedGenerator
from ponder.text import split_sentences

runner = CliRunner()
GUIDE = (
    "Brewing green tea is simple. Heat the water to about 80 degrees, not boiling. "
    "Use one teaspoon of leaves per cup. Steep the leaves for two minutes, then remove them. "
    "Longer steeping makes the tea bitter. Store the leaves in a dry, dark tin."
)
FIGS = {
    "rouge1": {"extractive": 0.33, "lead": 0.32},
    "abstractive": {"big-model": {"rouge1": 0.42, "lead3_rouge1": 0.40, "n": 15},
                    "fake-model": {"rouge1": 0.20, "lead3_rouge1": 0.40, "n": 15}},
}


def test_summarize_default_is_extractive_made_of_the_guides_own_sentences() -> None:
    s = pipeline("summarization", embedder=HashEmbedder(dim=128), num_sentences=2)
    assert s.options.method == "auto"
    r = s(GUIDE)
    assert r["method"] == "extractive"
    assert "default: extractive" in r["method_detail"]
    picked = split_sentences(r["summary"])
    assert len(picked) == 2
    assert set(picked) <= set(split_sentences(GUIDE))  # nothing invented


def test_summarize_auto_loads_no_model_when_none_beat_lead3() -> None:
    figures = load_figures()
    assert figures["rouge1"]["extractive"] >= figures["rouge1"]["lead"]
    s = pipeline("summarization", model="/no/such/model.gguf",
                 embedder=HashEmbedder(dim=64))
    if not any(r["rouge1"] > r["lead3_rouge1"] for r in figures.get("abstractive", {}).values()):
        assert s(GUIDE)["method"] == "extractive"  # the missing model was never loaded


def test_choose_method_takes_abstractive_only_for_a_model_above_lead3() -> None:
    assert choose_method("big-model", FIGS)[0] == "abstractive"
    method, why = choose_method("fake-model", FIGS)
    assert method == "extractive" and "0.200 < lead-3 0.400" in why
    assert choose_method("other", FIGS)[0] == "extractive"
    lead_best = {"rouge1": {"extractive": 0.30, "lead": 0.31}}
    assert choose_method(None, lead_best)[0] == "lead"
    assert choose_method(None, {})[0] == "extractive"


def test_summarize_explicit_method_is_kept() -> None:
    r = pipeline("summarization", method="abstractive",
                 model=ScriptedGenerator(["Tea needs cool water."]))(GUIDE)
    assert r["method"] == "abstractive" and "method_detail" not in r


def test_zero_shot_default_is_embedding() -> None:
    clf = pipeline("classify", labels="tea,football", embedder=HashEmbedder(dim=256))
    assert clf.options.method == "embedding"
    r = clf("football match football goal")
    assert r["method"] == "embedding" and r["label"] == "football"


# ------------------------------------------------------------------ CLI, plain form, fakes


def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_EMBEDDER", "hash")
    monkeypatch.setenv("PONDER_MODEL", "fake")


def test_summarize_cli_plain_form_names_the_method(monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    r = runner.invoke(app, ["summarize", GUIDE, "--sentences", "2"])
    assert r.exit_code == 0, r.output
    assert set(split_sentences(r.stdout.strip())) <= set(split_sentences(GUIDE))
    assert "method: extractive" in " ".join(r.stderr.split())


def _toy_head(tmp_path: Path) -> Path:
    emb = HashEmbedder(dim=64)
    rude = ["you idiot", "stupid loser", "shut up idiot", "loser moron", "stupid idiot"]
    fine = ["thank you", "see you soon", "nice day", "good work", "thanks friend"]
    head = EmbeddingHead.fit(emb.embed(rude + fine), ["offensive"] * 5 + ["not-offensive"] * 5,
                             embedder_id=emb.model_id, info={"description": "toy hash head"})
    return head.save(tmp_path / "toy.npz")


def test_toxicity_cli_plain_json_and_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    _env(monkeypatch)
    head = str(_toy_head(tmp_path))
    r = runner.invoke(app, ["toxicity", "you stupid idiot", "--head-file", head])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("toxic\t") and "method: head (toy hash head)" in r.stdout
    r = runner.invoke(app, ["toxicity", "thank you friend", "--head-file", head, "--json"])
    out = json.loads(r.stdout)
    assert out["label"] == "ok" and 0 <= out["score"] < 0.5
    src = tmp_path / "in.jsonl"
    src.write_text('{"body": "you idiot"}\n{"body": ""}\n{"body": "nice day"}\n')
    r = runner.invoke(app, ["toxicity", "--input", str(src), "--text-field", "body",
                            "--head-file", head])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [ln.split("\t")[:2] for ln in lines] == [["1", "toxic"], ["3", "ok"]]
    r = runner.invoke(app, ["toxicity", "hello", "--method", "llm", "--model", "fake"])
    assert r.exit_code == 0, r.output
    assert "method: llm" in r.stdout


def test_toxicity_cli_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _env(monkeypatch)
    r = runner.invoke(app, ["toxicity", "x", "--method", "magic"])
    assert r.exit_code != 0 and "method=" in str(r.exception)
    r = runner.invoke(app, ["toxicity"])
    assert r.exit_code != 0 and "nothing to process" in str(r.exception)


def test_eval_toxicity_missing_data_says_where(tmp_path: Path) -> None:
    r = runner.invoke(app, ["eval", "toxicity", "--tweeteval", str(tmp_path / "nowhere"),
                            "--output", str(tmp_path / "out.json")])
    assert r.exit_code != 0
    msg = str(r.exception)
    assert "nowhere" in msg and "offensive" in msg and "--tweeteval" in msg
    assert not (tmp_path / "out.json").exists()


def test_toxicity_markdown_lists_the_published_baselines() -> None:
    result = {"task": "hate", "n": 3, "published_source": "Barbieri et al. 2020",
              "systems": [{"system": f"{k} (published)", "macro_f1": v / 100}
                          for k, v in PUBLISHED["hate"].items()]}
    md = to_markdown(result)
    assert "| RoBERTa-Retrained (published) | 0.523 |" in md and "Barbieri" in md


def test_embedding_batch_probabilities_match_one_by_one() -> None:
    clf = pipeline("classify", labels="tea,football,music", embedder=HashEmbedder(dim=128))
    texts = ["football goal", "green tea leaves", "music band song"]
    batch = clf.probabilities_batch(texts)
    one = [clf.probabilities(t) for t in texts]
    assert batch.shape == (3, 3)
    assert np.allclose(batch, np.array(one), atol=1e-6)
