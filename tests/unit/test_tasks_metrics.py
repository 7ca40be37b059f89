"""Text metrics, the batch input reader, the language helpers and the eval table (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.errors import ConfigError, LoaderError
from ponder.evaluate.text_metrics import accuracy, bleu, chrf, macro_f1, rouge
from ponder.tasks.inputs import read_inputs
from ponder.tasks.languages import guess_language, resolve_language
from ponder.text import split_sentences


def test_rouge_identical_and_disjoint() -> None:
    same = rouge(["the cat sat"], ["the cat sat"])
    assert same == pytest.approx({"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})
    none = rouge(["dogs bark loudly"], ["the cat sat"])
    assert none["rouge1"] == 0.0


def test_rouge_uses_stemming() -> None:
    assert rouge(["cats running"], ["cat run"])["rouge1"] == pytest.approx(1.0)


def test_bleu_and_chrf_with_two_reference_sets() -> None:
    preds = ["Ich hoffe, Sie finden eine Lösung."]
    refs_a = ["Ich hoffe wirklich, dass Sie eine Lösung finden werden."]
    refs_b = ["Ich hoffe, Sie finden eine Lösung."]
    assert bleu(preds, [refs_a, refs_b]) == pytest.approx(100.0)
    assert 0 < chrf(preds, [refs_a]) < 100
    assert chrf(preds, [refs_a, refs_b]) == pytest.approx(100.0)


def test_metric_input_errors() -> None:
    with pytest.raises(ConfigError):
        rouge(["a"], ["a", "b"])
    with pytest.raises(ConfigError):
        bleu(["a"], ["a"])  # a set of references, not a list of strings
    with pytest.raises(ConfigError):
        accuracy([], [])


def test_macro_f1_weighs_classes_equally() -> None:
    gold = ["a"] * 8 + ["b"] * 2
    pred = ["a"] * 10
    assert accuracy(gold, pred) == 0.8
    assert macro_f1(gold, pred) == pytest.approx((2 * 8 / (16 + 2) + 0.0) / 2)
    assert macro_f1(gold, pred, ["a", "b", "c"]) == pytest.approx(macro_f1(gold, pred))


def test_read_inputs_formats(tmp_path: Path) -> None:
    t = tmp_path / "a.txt"
    t.write_text("one\n\n two \n")
    rows, skipped = read_inputs(t)
    assert [(r.row, r.text) for r in rows] == [(1, "one"), (3, "two")] and skipped == []
    whole, _ = read_inputs(t, whole=True)
    assert len(whole) == 1
    j = tmp_path / "a.jsonl"
    j.write_text('{"msg": "hi", "id": "x"}\n{bad json\n{"msg": "yo"}\n')
    rows, skipped = read_inputs(j, "msg")
    assert [r.text for r in rows] == ["hi", "yo"] and rows[0].fields == {"id": "x"}
    assert len(skipped) == 1 and "row=2" in skipped[0][0]


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [("a.csv", "id,body\n1,x\n", None), ("a.pdf", "x", None), ("a.txt", "x\n", "text"),
     ("a.txt", "\n\n", None)],
)
def test_read_inputs_errors(tmp_path: Path, name: str, content: str, field: str | None) -> None:
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(LoaderError):
        read_inputs(p, field)


def test_missing_input_file(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="not found"):
        read_inputs(tmp_path / "nope.csv")


def test_languages() -> None:
    assert resolve_language("DE") == "de" and resolve_language("pt-BR") == "pt"
    assert resolve_language("Farsi") == "fa"
    with pytest.raises(ConfigError, match="unknown language"):
        resolve_language("Elvish")
    assert guess_language("Le chat est sur la table et il dort.") == "fr"
    assert guess_language("こんにちは、元気ですか") == "ja"
    assert guess_language("ok") is None


def test_sentence_splitting_of_news_text() -> None:
    text = 'He said: "We won." The U.S. team left at 5 p.m. Monday.Fans cheered.'
    assert split_sentences(text) == [
        'He said: "We won."', "The U.S. team left at 5 p.m. Monday.", "Fans cheered.",
    ]
    assert split_sentences("Para one\n\nPara two") == ["Para one", "Para two"]
