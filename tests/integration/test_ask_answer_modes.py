"""The answer modes with the real models (MiniLM + SmolLM2-135M): the demo's question over the
csv module's pydoc gets a checked answer that says which method gave it, and the same cited
extractive answer every run (``csv.DictReader`` is a strict xfail: see its reason); the
two-line tea guide answers "four minutes"; a question the sources do not answer gets a plain
"not in the sources"."""

from __future__ import annotations

import pytest

from ponder.rag import ask
from ponder.rag.extractive import NOT_FOUND
from ponder.store.collection import Collection

pytestmark = pytest.mark.integration

QUESTION = "How do I read a CSV file with a header row?"
TEA = ("Black tea takes boiling water and four minutes.\n"
       "Green tea takes water at 80 degrees and two minutes.\n")


@pytest.fixture(scope="module")
def stdlib(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("pydoc-home")
    col = Collection.create("stdlib", home=home)  # the default embedder, MiniLM
    col.ingest_pydoc(["csv"])
    yield col
    col.close()


@pytest.fixture(scope="module")
def tea(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("tea-home")
    guide = home / "guide.md"
    guide.write_text(TEA)
    col = Collection.create("tea", home=home)
    col.ingest([str(guide)])
    yield col
    col.close()


def _cites_dictreader(a) -> bool:  # type: ignore[no-untyped-def]
    return any("DictReader" in (c.quote or c.text) for c in a.citations)


def test_demo_question_gets_a_checked_answer_and_says_which_method(stdlib: Collection, gen
                                                                   ) -> None:  # type: ignore[no-untyped-def]
    a = ask(QUESTION, collection=stdlib, model=gen)  # the default: auto
    assert a.status == "answered" and not a.unsupported
    assert (a.mode == "extractive") == bool(a.fallback_reason)
    if a.mode == "extractive":
        assert a.citations and a.generated is not None
    assert not a.text.startswith(("The source", "Source"))  # not a copied source header
    # the extractive answer does not depend on the model: the same, cited, every run
    x = ask(QUESTION, collection=stdlib, answer="extractive")
    y = ask(QUESTION, collection=stdlib, answer="extractive")
    assert x.text == y.text and x.mode == "extractive"
    assert x.citations[0].source == "pydoc:csv" and x.citations[0].quote in x.citations[0].text


@pytest.mark.xfail(strict=True, reason=(
    "csv.DictReader's pydoc (Python 3.11-3.13) has no docstring: its chunk never mentions "
    "reading, files or headers, so retrieval ranks it 22nd of 143 csv/json/io chunks (dense) "
    "and no scorer over the retrieved text can choose it; needs richer stdlib text at ingest"))
def test_demo_question_answers_dictreader(stdlib: Collection) -> None:
    a = ask(QUESTION, collection=stdlib, answer="extractive")  # auto falls back to this
    assert "DictReader" in a.text and _cites_dictreader(a)


def test_tea_guide_answers_four_minutes(tea: Collection, gen) -> None:  # type: ignore[no-untyped-def]
    a = ask("How long does black tea steep?", collection=tea, model=gen)
    assert "four minutes" in a.text.lower(), a.to_dict()
    assert a.citations and a.citations[0].source.endswith("guide.md")
    x = ask("How long does black tea steep?", collection=tea, answer="extractive")
    assert "four minutes" in x.text and x.status == "answered"


def test_a_question_the_guide_does_not_answer_is_said_plainly(tea: Collection) -> None:
    x = ask("Who wrote the novel Moby-Dick?", collection=tea, answer="extractive",
            min_score=-1)
    assert x.text == NOT_FOUND and not x.citations
