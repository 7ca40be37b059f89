"""``auto``'s agreement check (``ponder.rag.extractive.agreement``): a generated answer is kept
only when the words it adds to the question lie in one source sentence that the extractive
scorer ranks near the top; and extractive answers from API reference entries carry the
entry's name (fakes only)."""

from __future__ import annotations

import math

from ponder.llm.fake import ScriptedGenerator
from ponder.rag.ask import answer_from_hits
from ponder.rag.extractive import agreement, rank_sentences
from ponder.rag.modes import api_entry, extractive_answer
from ponder.types import Chunk, Hit

TEA = ("Green tea takes water at 80 degrees and two minutes. "
       "Black tea takes boiling water and four minutes.")
STORE = "Keep tea leaves in a sealed tin away from light and strong smells."
Q = "How long does black tea steep?"


def _hits(*texts: str, heading: tuple[str, ...] = ()) -> list[Hit]:
    return [Hit(Chunk(f"c{i}", f"d{i}", t, source=f"doc{i}.md", end=len(t),
                      heading_path=heading), 1.0 - i / 10, i + 1)
            for i, t in enumerate(texts)]


def test_a_model_that_writes_supported_answers_is_kept_even_over_two_sources() -> None:
    # two claims, each held by one sentence of a different source: both supported, and the
    # first is the sentence that best answers the question
    g = ScriptedGenerator(["Black tea steeps for four minutes in boiling water [1]. Keep the "
                           "leaves in a sealed tin [2]."])
    a = answer_from_hits(Q, _hits(TEA, STORE), model=g)
    assert a.mode == "generative" and a.fallback_reason == "" and a.generated is None
    assert a.text.startswith("Black tea steeps for four minutes")


def test_a_supported_answer_built_from_scattered_words_falls_back() -> None:
    # every word is in the source (the support check passes) but no one sentence says it
    g = ScriptedGenerator(["Black tea takes 80 degrees and four minutes [1]."])
    a = answer_from_hits(Q, _hits(TEA), model=g)
    assert a.mode == "extractive" and "four minutes" in a.text
    assert a.fallback_reason.startswith("no source sentence holds all the words")
    assert "80" in a.fallback_reason and a.generated is not None


def test_an_answer_that_only_repeats_the_question_falls_back() -> None:
    g = ScriptedGenerator(["Black tea steeps [1]."])
    a = answer_from_hits(Q, _hits(TEA), model=g)
    assert a.mode == "extractive"
    assert a.fallback_reason == "the generated answer adds nothing to the question"


def test_agreement_margin_is_measured_from_the_best_sentence() -> None:
    ranked = rank_sentences(Q, _hits(TEA))
    best = ranked[0][0].text
    assert best.startswith("Black tea")
    ok = agreement(Q, "Four minutes in boiling water.", ranked)
    assert ok.agrees and ok.margins == (0.0,)
    green = agreement(Q, "Green tea takes two minutes.", ranked,
                      weights={"agreement": {"margin": 0.0}})
    assert not green.agrees and 0 < green.margins[0] < math.inf
    assert "not among those that best answer" in green.reason()
    # the same answer passes with a margin as wide as its distance from the best
    wide = agreement(Q, "Green tea takes two minutes.", ranked,
                     weights={"agreement": {"margin": green.margins[0]}})
    assert wide.agrees
    assert not agreement(Q, "Black tea.", []).agrees  # nothing retrieved: nothing agrees


def test_an_answer_from_an_api_entry_names_the_entry() -> None:
    text = ("If fieldnames is omitted, the values in the first row of file f will be used as "
            "the fieldnames.")
    hits = _hits(text, heading=("csv — CSV File Reading and Writing", "Module Contents",
                                "csv.DictReader"))
    a = extractive_answer("Which fieldnames are used when omitted?", hits)
    assert a.text.startswith("csv.DictReader: ") and a.text.endswith("[1]")
    assert a.citations[0].quote == text  # the quote is the source sentence, unchanged
    assert api_entry(("Guide", "Green tea")) == "" and api_entry(()) == ""
