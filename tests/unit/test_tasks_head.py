"""The embedding classifier head: training, calibration, saving, the shipped weights, and its use
by sentiment and toxicity (on the hash fake embedder; the real MiniLM is in integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ponder.errors import ConfigError, EmbeddingMismatchError, InputError
from ponder.safety.toxic import ToxicityScore, ToxicityScorer, toxicity
from ponder.tasks import pipeline
from ponder.tasks.head import HEADS_DIR, EmbeddingHead, ece, fit_temperature
from ponder.testing import HashEmbedder, ScriptedGenerator

POS = ["great lovely wonderful", "lovely happy great day", "wonderful happy film",
       "happy great lovely", "great wonderful meal", "lovely happy time"]
NEG = ["awful terrible horrible", "terrible sad awful day", "horrible sad film",
       "sad awful terrible", "awful horrible meal", "terrible sad time"]
NEU = ["the train leaves at noon", "the meeting is on tuesday", "the shop opens at nine",
       "the report has ten pages", "the bus stops here", "the room is on floor two"]


def _blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two classes either side of the line x0 + x1 = 0 in 4 dimensions (x2, x3: noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 4))
    y = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    return x, y


def test_fit_learns_the_decision_boundary() -> None:
    x, y = _blobs(200)
    head = EmbeddingHead.fit(x, y, embedder_id="toy-4", epochs=400)
    probe = np.array([[1.0, 0.5, 3, -3], [-0.5, -1.0, -3, 3], [2.0, -1.5, 0, 0],
                      [-2.0, 1.5, 0, 0]])
    assert head.predict(probe) == ["up", "down", "up", "down"]
    xt, yt = _blobs(200, seed=1)
    assert np.mean(np.array(head.predict(xt)) == yt) >= 0.95
    # the weights point along (1, 1, 0, 0): the noise dimensions get little weight
    w = head.weights[head.labels.index("up")] - head.weights[head.labels.index("down")]
    assert w[0] > 3 * abs(w[2]) and w[1] > 3 * abs(w[3])


def test_balanced_class_weights_help_the_rare_class() -> None:
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 1, (300, 3)), rng.normal(1.2, 1, (30, 3))])
    y = ["common"] * 300 + ["rare"] * 30
    plain = EmbeddingHead.fit(x, y, embedder_id="t", class_weight=None)
    balanced = EmbeddingHead.fit(x, y, embedder_id="t", class_weight="balanced")
    rare = x[300:]
    assert balanced.predict(rare).count("rare") > plain.predict(rare).count("rare")


def test_temperature_scaling_reduces_calibration_error() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (400, 2))
    y = np.where(x[:, 0] + 0.8 * rng.normal(0, 1, 400) > 0, "a", "b")  # noisy labels
    head = EmbeddingHead.fit(x[:200], y[:200], embedder_id="t")
    over = EmbeddingHead(head.labels, head.weights * 8, head.bias * 8, "t")  # over-confident
    cal = over.calibrated(x[200:], y[200:])
    assert cal.temperature > 2
    c = cal.info["calibration"]
    assert c["ece_after"] < c["ece_before"] and c["nll_after"] < c["nll_before"]
    assert np.allclose(cal.predict_proba(x).sum(axis=1), 1.0)
    assert cal.predict(x) == over.predict(x)  # one temperature never changes the argmax


def test_fit_temperature_and_ece_on_known_values() -> None:
    z = np.array([[0.0, 2.0], [2.0, 0.0]])
    assert fit_temperature(z, np.array([1, 0])) <= 0.06  # always right: sharpen to the bound
    assert ece([0.8, 0.8, 0.8, 0.8, 0.8], [True, True, True, True, False]) == pytest.approx(0.0)
    assert ece([1.0, 1.0], [True, False]) == pytest.approx(0.5)


def test_save_and_load_round_trip_is_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (90, 384)).astype(np.float32)
    y = ["a", "b", "c"] * 30
    head = EmbeddingHead.fit(x, y, embedder_id="all-MiniLM-L6-v2", epochs=20)
    head = head.calibrated(x[:30], y[:30])
    path = head.save(tmp_path / "h.npz")
    assert path.stat().st_size < 12_000
    back = EmbeddingHead.load(path)
    assert back.labels == head.labels and back.embedder_id == head.embedder_id
    assert back.temperature == pytest.approx(head.temperature)
    assert np.allclose(back.predict_proba(x[:5]), head.predict_proba(x[:5]), atol=1e-6)
    with pytest.raises(InputError, match="train_heads"):
        EmbeddingHead.load(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    ("name", "labels", "dim", "embedder_id"),
    [("sentiment", ("negative", "neutral", "positive"), 576,
      "SmolLM2-135M-Instruct-Q4_1/layer15-mean"),
     ("offensive", ("not-offensive", "offensive"), 384, "all-MiniLM-L6-v2"),
     ("hate", ("hate", "not-hate"), 384, "all-MiniLM-L6-v2")],
)
def test_shipped_heads_load_with_their_shape_and_embedder(
        name: str, labels: tuple, dim: int, embedder_id: str) -> None:
    path = HEADS_DIR / f"{name}.npz"
    assert path.stat().st_size < 8_000  # a few KB
    head = EmbeddingHead.load(path)
    assert head.labels == labels
    assert head.weights.shape == (len(labels), dim) and head.bias.shape == (len(labels),)
    assert head.weights.dtype == np.float32
    assert head.embedder_id == embedder_id
    assert 0.05 < head.temperature < 20
    cal = head.info["calibration"]
    assert cal["n"] > 100 and cal["ece_after"] <= cal["ece_before"] + 0.01
    with pytest.raises(EmbeddingMismatchError, match="dimension"):
        head.check_embedder(HashEmbedder(dim=64))


def _hash_sentiment_head() -> tuple[EmbeddingHead, HashEmbedder]:
    emb = HashEmbedder(dim=128)
    texts = POS + NEG + NEU
    y = ["positive"] * 6 + ["negative"] * 6 + ["neutral"] * 6
    head = EmbeddingHead.fit(emb.embed(texts), y, embedder_id=emb.model_id,
                             info={"description": "hash + logistic regression, toy"})
    return head, emb


def test_sentiment_head_is_the_default_and_says_so() -> None:
    head, emb = _hash_sentiment_head()
    s = pipeline("sentiment", head=head, embedder=emb)
    assert s.options.method == "head"
    r = s("what a lovely wonderful day")
    assert r["label"] == "positive" and r["method"] == "head"
    assert r["method_detail"] == "hash + logistic regression, toy"
    assert s("sad awful film")["label"] == "negative"
    assert set(r["scores"]) == {"positive", "negative", "neutral"}
    assert sum(r["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    batch = s.probabilities_batch(["lovely great", "terrible sad"])
    assert batch.shape == (2, 3)
    assert [s.labels[i] for i in batch.argmax(axis=1)] == ["positive", "negative"]


def test_sentiment_head_without_an_embedder_uses_the_one_it_was_trained_with() -> None:
    head, _ = _hash_sentiment_head()
    s = pipeline("sentiment", head=head)
    assert s("great lovely happy")["label"] == "positive"
    assert s.embedder.model_id == "hash-128"


@pytest.mark.parametrize(
    ("options", "match"),
    [({"labels": "good,bad"}, "knows the labels"),
     ({"calibrate": True}, "calibrated already"),
     ({"multi_label": True}, "one label per text"),
     ({"method": "votes"}, "head \\(trained classifier\\)")],
)
def test_sentiment_head_refuses_what_it_cannot_do(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pipeline("sentiment", **options)


def test_sentiment_head_accepts_its_own_labels_in_any_order() -> None:
    head, emb = _hash_sentiment_head()
    s = pipeline("sentiment", labels="Positive,negative,neutral", head=head, embedder=emb)
    assert s("lovely great happy")["label"] == "Positive"


def test_sentiment_head_refuses_an_embedder_of_another_dimension() -> None:
    head, _ = _hash_sentiment_head()
    with pytest.raises(EmbeddingMismatchError):
        pipeline("sentiment", head=head, embedder=HashEmbedder(dim=64))("lovely")


# ------------------------------------------------------------------ toxicity


def _hash_toxic_head() -> EmbeddingHead:
    emb = HashEmbedder(dim=128)
    rude = ["you idiot shut up", "stupid idiot loser", "shut up you stupid loser",
            "idiot loser go away", "you are stupid", "loser idiot moron"]
    fine = ["thanks for the help", "see you at lunch", "the weather is nice",
            "happy birthday friend", "thanks see you soon", "nice work today"]
    return EmbeddingHead.fit(emb.embed(rude + fine), ["offensive"] * 6 + ["not-offensive"] * 6,
                             embedder_id=emb.model_id)


def test_toxicity_api_scores_each_text_with_the_head() -> None:
    head = _hash_toxic_head()
    out = toxicity(["shut up you idiot", "thanks, nice work"], head=head)
    assert [s.label for s in out] == ["toxic", "ok"]
    assert out[0].score > 0.5 > out[1].score
    assert all(isinstance(s, ToxicityScore) and s.method == "head" for s in out)
    assert out[0].to_dict()["text"] == "shut up you idiot"
    single = toxicity("stupid loser", head=head, threshold=0.9)
    assert len(single) == 1 and single[0].label == ("toxic" if single[0].score >= 0.9 else "ok")
    assert toxicity([], head=head) == []
    with pytest.raises(InputError, match="input 1"):
        toxicity(["fine", "  "], head=head)


def test_toxicity_llm_method_is_p_yes() -> None:
    g = ScriptedGenerator(logprobs={"yes": -2.0, "no": -0.2})
    out = toxicity("have a nice day", method="llm", generator=g)
    assert out[0].label == "ok" and out[0].method == "llm"
    assert out[0].score == pytest.approx(1 / (1 + np.exp(1.8)), abs=1e-4)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"method": "votes"}, "method="), ({"head": "spam"}, "head="),
     ({"threshold": 1.5}, "threshold")],
)
def test_toxicity_bad_options_are_named(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ToxicityScorer(**options)
