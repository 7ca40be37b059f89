"""Answer modes of ``ask``: extractive spans, the ``auto`` fallback, "not in the sources",
bad chunks, and ``ponder ask --answer`` through the CLI (fakes only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError
from ponder.llm.fake import ScriptedGenerator
from ponder.rag import ask
from ponder.rag.ask import AskConfig, answer_from_hits, extractive_answer
from ponder.rag.extractive import (
    NOT_FOUND,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    extract,
    load_weights,
    question_type,
)
from ponder.store.collection import Collection
from ponder.types import Chunk, Hit

TEA = ("Green tea takes water at 80 degrees and two minutes. "
       "Black tea takes boiling water and four minutes.")


def _hits(*texts: str) -> list[Hit]:
    return [Hit(Chunk(f"c{i}", f"d{i}", t, source=f"doc{i}.md", end=len(t)), 1.0 - i / 10, i + 1)
            for i, t in enumerate(texts)]


class NoModel(ScriptedGenerator):
    """A generator that fails the test if it is asked to generate."""

    def _stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the extractive mode must not call the model")


@pytest.fixture
def col(home: Path) -> Collection:
    c = Collection.create("kb", home=home, embedder=HashEmbedder(dim=64))
    c.add(ids=["tea", "csv"], texts=[TEA, "csv.DictReader reads each row of a CSV file into a "
                                     "dictionary keyed by the header row."])
    return c


def test_extract_answers_with_a_short_span_cited_to_its_sentence() -> None:
    x = extract("How long does black tea steep?", _hits(TEA))
    assert x is not None
    assert "four minutes" in x.text and x.text in x.sentence
    assert x.sentence == "Black tea takes boiling water and four minutes."
    assert x.chunk_id == "c0"
    assert TEA[x.start:x.end] == x.text
    assert TEA[x.sentence_start:x.sentence_end] == x.sentence
    assert "chars" in x.location and x.to_dict()["span"] == [x.start, x.end]


def test_how_to_questions_keep_the_whole_sentence() -> None:
    x = extract("How do I read a CSV file with a header row?",
                _hits("json.loads parses JSON.", "Use csv.DictReader, which keys each row by "
                      "the header row, to read a CSV file."))
    assert x is not None and x.chunk_id == "c1"
    assert "csv.DictReader" in x.text and x.text.endswith("to read a CSV file")


def test_unrelated_question_gets_no_span() -> None:
    assert extract("Who painted the Mona Lisa?", _hits(TEA)) is None


@pytest.mark.parametrize("texts", [("",), ("   ", "..."), ("", TEA[:0])])
def test_empty_chunks_do_not_crash(texts: tuple[str, ...]) -> None:
    assert extract("How long does black tea steep?", _hits(*texts)) is None
    a = extractive_answer("How long does black tea steep?", _hits(*texts))
    assert a.status == "no_answer" and a.text == NOT_FOUND and a.citations == []


def test_one_very_long_sentence_does_not_crash() -> None:
    long = "black tea steeps " + " ".join(f"word{i}" for i in range(5000)) + " four minutes"
    x = extract("How long does black tea steep?", _hits(long))
    assert x is not None and x.text and long.find(x.text) >= 0


def test_question_types() -> None:
    assert question_type("How many moons does Mars have?") == "number"
    assert question_type("When did the war end?") == "date"
    assert question_type("Who founded the company?") == "name"
    assert question_type("How do I open a file?") == "how_to"
    assert question_type("What colour is the sky?") == "other"


def test_shipped_weights_match_the_features() -> None:
    w = load_weights()
    assert len(w["sentence"]["weights"]) == len(SENTENCE_FEATURES)
    assert len(w["span"]["weights"]) == len(SPAN_FEATURES)
    assert {"overlap_idf", "embedding"} <= set(w["floor"])


def test_extractive_mode_quotes_a_source_without_the_model(col: Collection) -> None:
    shown: list[str] = []
    a = ask("How long does black tea steep?", collection=col, model=NoModel(),
            answer="extractive", min_score=-1, stream_to=shown.append)
    assert a.mode == "extractive" and a.status == "answered"
    assert "four minutes" in a.text and a.text.endswith("[1]")
    assert a.citations[0].chunk_id == "tea" and a.citations[0].quote.startswith("Black tea")
    assert "four minutes" in "".join(shown)
    assert a.timings["time_to_first_token"] <= a.timings["total"]
    d = a.to_dict()
    assert d["mode"] == "extractive" and d["fallback_reason"] is None
    assert d["extraction"]["chunk_id"] == "tea"


def test_extractive_mode_says_plainly_when_the_sources_do_not_answer(col: Collection) -> None:
    a = ask("Who painted the Mona Lisa?", collection=col, model=NoModel(), answer="extractive",
            min_score=-1)
    assert a.status == "no_answer" and a.text == NOT_FOUND and not a.citations


def test_auto_keeps_a_supported_generated_answer(col: Collection) -> None:
    g = ScriptedGenerator(["Black tea takes boiling water and four minutes [1]."])
    a = ask("How long does black tea steep?", collection=col, model=g, min_score=-1, k=1)
    assert a.mode == "generative" and a.fallback_reason == "" and a.generated is None
    assert a.text == "Black tea takes boiling water and four minutes [1]."


def test_auto_replaces_an_unsupported_answer_and_says_so(col: Collection) -> None:
    g = ScriptedGenerator(["Black tea steeps for 10 minutes."])
    shown: list[str] = []
    a = ask("How long does black tea steep?", collection=col, model=g, min_score=-1,
            stream_to=shown.append)
    assert a.mode == "extractive" and "four minutes" in a.text
    assert "not supported" in a.fallback_reason
    assert a.generated is not None and a.generated.text == "Black tea steeps for 10 minutes."
    streamed = "".join(shown)
    assert streamed.startswith("Black tea steeps for 10 minutes.")
    assert "[auto]" in streamed and "four minutes" in streamed.split("[auto]")[1]
    d = a.to_dict()
    assert d["mode"] == "extractive" and "not supported" in d["fallback_reason"]
    assert d["generated_answer"] == "Black tea steeps for 10 minutes."


def test_auto_falls_back_on_an_empty_answer() -> None:
    a = answer_from_hits("How long does black tea steep?", _hits(TEA),
                         model=ScriptedGenerator([""]))
    assert a.mode == "extractive" and a.fallback_reason == "the model gave no answer"
    assert "four minutes" in a.text


def test_auto_keeps_a_refusal_when_no_sentence_answers(col: Collection) -> None:
    g = ScriptedGenerator(["The sources do not contain the answer."])
    a = ask("Who painted the Mona Lisa?", collection=col, model=g, min_score=-1)
    assert a.status == "no_answer" and a.mode == "generative"
    assert "do not contain" in a.text


def test_auto_says_plainly_when_the_answer_is_unsupported_and_nothing_answers(
    col: Collection,
) -> None:
    a = ask("Who painted the Mona Lisa?", collection=col, min_score=-1,
            model=ScriptedGenerator(["Leonardo da Vinci painted it in 1503."]))
    assert a.status == "no_answer" and a.text == NOT_FOUND and a.mode == "extractive"
    assert a.fallback_reason and not a.citations


def test_unknown_answer_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown answer mode 'magic'"):
        AskConfig(answer="magic")


@pytest.fixture
def kb(home: Path) -> Path:
    with Collection.create("kb", home=home, embedder="hash") as c:
        c.add(ids=["tea"], texts=[TEA])
    return home


def _run(home: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--home", str(home), *args])
    return r.exit_code, r.stdout


def test_cli_extractive_plain_and_json(kb: Path) -> None:
    home = kb
    code, out = _run(home, "ask", "How long does black tea steep?", "-c", "kb", "--model",
                     "fake", "--answer", "extractive", "--min-score", "-1")
    assert code == 0, out
    assert out.startswith("Black tea takes boiling water and four minutes [1]")
    assert "Sources" in out and "extractive (no model)" in out
    code, out = _run(home, "ask", "How long does black tea steep?", "-c", "kb", "--model",
                     "fake", "--answer", "extractive", "--min-score", "-1", "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["mode"] == "extractive" and "four minutes" in d["answer"]


def test_cli_auto_fallback_is_one_line_then_the_cited_span(kb: Path) -> None:
    home = kb
    code, out = _run(home, "ask", "How long does black tea steep?", "-c", "kb", "--model",
                     "fake", "--min-score", "-1")
    assert code == 0, out
    assert out.startswith("This is a scripted reply.")
    assert out.count("[auto]") == 1 and "four minutes" in out.split("[auto]")[1]
    assert "auto fallback" in out
    code, out = _run(home, "ask", "How long does black tea steep?", "-c", "kb", "--model",
                     "fake", "--min-score", "-1", "--json")
    d = json.loads(out)
    assert d["mode"] == "extractive" and d["fallback_reason"]
    assert d["generated_answer"] == "This is a scripted reply."


def test_cli_refuses_an_unknown_answer_mode(kb: Path) -> None:
    r = CliRunner().invoke(app, ["--home", str(kb), "ask", "q?", "-c", "kb", "--model", "fake",
                                 "--answer", "magic"])
    assert r.exit_code != 0 and isinstance(r.exception, ConfigError)
    assert "unknown answer mode 'magic'" in str(r.exception)
