"""QA evaluation: SQuAD metrics, loading, scoring an ``Answer``, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import dataset

from ponder.errors import InputError
from ponder.evaluate.qa import (
    QAExample,
    contains_answer,
    evaluate_qa,
    exact_match,
    ingest_paragraphs,
    load_squad,
    markdown_table,
    normalize_answer,
    sample_examples,
    score_answer,
    summarize,
    token_f1,
)
from ponder.llm.fake import ScriptedGenerator
from ponder.rag.answer import Answer, Citation, SentenceSupport
from ponder.store.collection import Collection
from ponder.types import Chunk, Hit


def test_squad_metrics_match_the_official_definitions() -> None:
    assert normalize_answer("The Denver Broncos.") == "denver broncos"
    assert exact_match("Denver Broncos [1]", ["the Denver Broncos"]) == 1.0
    assert exact_match("Broncos", ["Denver Broncos"]) == 0.0
    # precision 1/1, recall 1/2 -> F1 2/3
    assert token_f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert token_f1("Panthers", ["Denver Broncos", "Panthers"]) == 1.0  # best gold counts
    assert token_f1("", ["x"]) == 0.0
    assert contains_answer("It was the Denver Broncos who won.", ["Denver Broncos"]) == 1.0
    assert contains_answer("Denverite", ["Denver"]) == 0.0  # whole words only


def _squad(tmp_path: Path) -> Path:
    data = {"data": [{"title": "Tea Facts", "paragraphs": [
        {"context": "Tea comes from Camellia sinensis.",
         "qas": [{"id": "a", "question": "Tea comes from?", "answers": [
             {"text": "Camellia sinensis", "answer_start": 15},
             {"text": "Camellia sinensis", "answer_start": 15}]}]},
        {"context": "Coffee comes from Ethiopia.",
         "qas": [{"id": "b", "question": "Coffee from?", "answers": [
             {"text": "Ethiopia", "answer_start": 18}]}]},
    ]}]}
    f = tmp_path / "s.json"
    f.write_text(json.dumps(data))
    return f


def test_load_squad(tmp_path: Path) -> None:
    paras, exs = load_squad(_squad(tmp_path))
    assert [p.id for p in paras] == ["Tea_Facts-0", "Tea_Facts-1"]
    assert exs[0] == QAExample("a", "Tea comes from?", ("Camellia sinensis",), "Tea_Facts-0")
    with pytest.raises(InputError, match="no such SQuAD file"):
        load_squad(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="not SQuAD"):
        load_squad(tmp_path / "bad.json")


def test_sample_is_spread_and_stable() -> None:
    xs = [QAExample(str(i), "q", ("a",), "p") for i in range(100)]
    assert [x.id for x in sample_examples(xs, 4)] == ["0", "25", "50", "75"]
    assert len(sample_examples(xs, None)) == 100 == len(sample_examples(xs, 500))


def _answer(text: str, cited: list[tuple[str, bool]], hits: list[str]) -> Answer:
    return Answer(
        question="q", text=text,
        citations=[Citation(i + 1, cid, "s", "", "t", inferred=inf)
                   for i, (cid, inf) in enumerate(cited)],
        sentences=[SentenceSupport(text, (), (), 0.0, "claim")],
        unsupported=[text] if not cited else [],
        hits=[Hit(Chunk(h, h, "t"), 1.0, r + 1) for r, h in enumerate(hits)],
        timings={"time_to_first_token": 1.0, "total": 2.0},
    )


def test_score_answer_and_summary() -> None:
    ex = QAExample("a", "q", ("Ethiopia",), "p1")
    good = score_answer(ex, _answer("Ethiopia [1].", [("p1", True)], ["p0", "p1"]), "rag")
    assert (good.em, good.contains, good.hit, good.cited_gold, good.cited_gold_model) == (
        1.0, 1.0, 1.0, 1.0, 0.0)
    bad = score_answer(ex, _answer("Kenya.", [], ["p0"]), "rag")
    assert (bad.em, bad.hit, bad.cited_gold, bad.unsupported_sentences) == (0.0, 0.0, 0.0, 1)
    s = summarize([good, bad])
    assert s["questions"] == 2 and s["em"] == 0.5 and s["hit_at_k"] == 0.5
    assert s["unsupported_share"] == 0.5 and s["ttft_p50"] == 1.0
    table = markdown_table([{"setting": "x", **s}])
    assert table.splitlines()[0].startswith("| setting |") and "| x | 2 | 0.500 |" in table


def test_evaluate_qa_rag_and_closed_book(tmp_path: Path, home: Path) -> None:
    paras, exs = load_squad(_squad(tmp_path))
    col = Collection.create("sq", home=home, embedder="hash")
    assert ingest_paragraphs(col, paras) == 2
    assert ingest_paragraphs(col, paras) == 0  # already there
    g = ScriptedGenerator({"Question: Coffee": "Coffee comes from Ethiopia [1].",
                           "Question: Tea": "Tea comes from Camellia sinensis [1]."})
    summary, recs = evaluate_qa(exs, collection=col, model=g, mode="rag")
    assert [r.retrieved[0] for r in recs] == ["Tea_Facts-0", "Tea_Facts-1"]
    assert summary["contains"] == 1.0 and summary["hit_at_k"] == 1.0
    assert summary["cited_gold"] == 1.0
    cb, _ = evaluate_qa(exs, collection=None, model=g, mode="closed_book")
    assert cb["questions"] == 2 and "hit_at_k" not in cb


@pytest.mark.dataset
def test_xquad_english_loads_with_the_documented_sizes() -> None:
    paras, exs = load_squad(dataset("xquad") / "xquad.en.json")
    assert (len(paras), len(exs)) == (240, 1190)
