"""A label prior divided out of a classifier's probabilities: given (``prior=``), fitted on
unlabeled texts (``fit_prior``, batch calibration) or measured on content-free inputs
(``calibrate=True``); and ``--prior-from FILE`` on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError
from ponder.llm.fake import ScriptedGenerator
from ponder.tasks import pipeline
from ponder.tasks.scoring import calibrate

# a model biased towards "positive": every text but the sad ones gets it
SCORES = {"positive": -0.2, "negative": -2.0, "neutral": -1.5}


def _logprobs(prompt: str, label: str) -> float:
    if "sad" in prompt and label == "negative":
        return -0.1
    if "lunch" in prompt and label == "neutral":
        return -0.5
    return SCORES.get(label, -9.0)


def _clf(**options):  # type: ignore[no-untyped-def]
    return pipeline("sentiment-analysis", method="llm",
                    model=ScriptedGenerator(logprobs=_logprobs), **options)


def test_fit_prior_is_the_mean_uncalibrated_distribution_and_is_divided_out() -> None:
    texts = ["a good day", "a sad day", "the sad news", "plain words"]
    plain = _clf()
    raw = np.array([[plain(t).scores[lab] for lab in plain.labels] for t in texts])
    fitted = plain.fit_prior(texts)
    assert fitted.options.prior == pytest.approx(tuple(raw.mean(0)), abs=1e-6)
    assert plain.options.prior is None  # a copy: the original is unchanged
    r = fitted("plain words")
    want = calibrate(list(raw[3]), list(raw.mean(0)))
    assert [r.scores[lab] for lab in fitted.labels] == pytest.approx(want, abs=1e-5)
    assert r.method == "llm" and r.method_detail.startswith("prior divided out: positive ")


def test_the_prior_moves_the_decision_away_from_the_models_bias() -> None:
    clf = _clf()
    assert clf("a fine lunch").label == "positive"
    # the model says positive to most texts; the lunch is far more neutral than is usual for
    # it: calibrated, neutral wins
    fitted = clf.fit_prior(["x", "y", "z"])
    assert fitted("a fine lunch").label == "neutral"


def test_a_given_prior_by_name_or_in_order() -> None:
    by_name = _clf(prior={"Neutral": 0.2, "positive": 0.5, "negative": 0.3})
    in_order = _clf(prior=[0.5, 0.3, 0.2])  # labels: positive, negative, neutral
    assert by_name.options.prior == in_order.options.prior == (0.5, 0.3, 0.2)
    assert by_name("x").scores == in_order("x").scores


@pytest.mark.parametrize(("prior", "says"), [
    ({"positive": 1, "negative": 1}, "give one value for each of positive, negative, neutral"),
    ([0.5, 0.5], "2 values for 3 labels"),
    ([0.5, 0.5, 0.0], "positive numbers"),
    ([0.5, "x", 0.2], "must be numbers"),
])
def test_a_bad_prior_says_what_to_give(prior, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=says):
        _clf(prior=prior)


def test_changing_the_labels_rechecks_the_prior() -> None:
    clf = _clf(prior=[0.5, 0.3, 0.2])
    with pytest.raises(ConfigError, match="3 values for 2 labels"):
        clf.replace(labels="good,bad")


def test_the_head_refuses_a_prior() -> None:
    with pytest.raises(ConfigError, match="calibrated already"):
        pipeline("sentiment-analysis", prior=[0.3, 0.3, 0.4])


def test_fit_prior_needs_texts() -> None:
    with pytest.raises(ConfigError, match="at least one text"):
        _clf().fit_prior([])


runner = CliRunner()


def test_cli_prior_from_a_text_file_plain_form(tmp_path: Path) -> None:
    src = tmp_path / "train.txt"
    src.write_text("first tweet\nsecond tweet\n\nthird tweet\n", encoding="utf-8")
    r = runner.invoke(app, ["sentiment", "I love it", "--method", "llm", "--model", "fake",
                            "--prior-from", str(src)])
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())
    assert "label prior from 3 texts of train.txt" in err
    assert r.stdout.strip() and "Traceback" not in r.output


def test_cli_prior_from_jsonl_uses_the_text_field(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl"
    src.write_text('{"body": "one"}\n{"body": "two"}\n', encoding="utf-8")
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"body": "three"}\n', encoding="utf-8")
    r = runner.invoke(app, ["classify", "--labels", "good,bad", "--method", "llm", "--model",
                            "fake", "--input", str(inp), "--text-field", "body",
                            "--prior-from", str(src), "--json"])
    assert r.exit_code == 0, r.output
    assert "label prior from 2 texts" in " ".join(r.stderr.split())


@pytest.mark.parametrize(("args", "says"), [
    (["--method", "llm", "--model", "fake", "--prior-from", "missing.txt"], "no such file"),
    (["--prior-from", "EXISTING"], "applies to --method llm or embedding"),
])
def test_cli_prior_from_errors_name_the_fix(tmp_path: Path, args, says) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "t.txt"
    src.write_text("a\n", encoding="utf-8")
    args = [str(src) if a == "EXISTING" else str(tmp_path / a) if a == "missing.txt" else a
            for a in args]
    r = runner.invoke(app, ["sentiment", "x", *args])
    assert isinstance(r.exception, ConfigError) and says in str(r.exception)
