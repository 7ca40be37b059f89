"""The answer modes with the real models (MiniLM + SmolLM2-135M): the demo's question over the
csv module's pydoc gets a checked answer that says which method gave it, and the same cited
extractive answer every run; over the csv page of the library reference (when installed) the
answer names the API entry it quotes, and the ``csv.DictReader`` entry is found under its
name (choosing it for this question is a strict xfail: see its reason); the two-line tea
guide answers "four minutes"; a question the sources do not answer gets a plain "not in the
sources"."""

from __future__ import annotations

import pytest

from ponder.ingest.pydoc_source import reference_pages
from ponder.rag import ask
from ponder.rag.extractive import NOT_FOUND
from ponder.rag.retrieve import RetrievalConfig, retrieve
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
def reference(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pages = reference_pages(["csv"])
    if not pages:
        pytest.skip("the Python library reference is not installed (apt-get install "
                    "python3-doc, or set PONDER_PYTHON_DOCS to its html folder)")
    home = tmp_path_factory.mktemp("reference-home")
    col = Collection.create("stdlib", home=home)
    col.ingest([pages["csv"]])
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


def test_the_reference_holds_dictreader_under_its_name(reference: Collection) -> None:
    entry = [c for c in reference.get() if c.heading_path[-1:] == ("csv.DictReader",)]
    assert any("first row of file f will be used as the fieldnames" in c.text for c in entry)
    assert all("csv.DictReader" in c.location for c in entry)
    hits = retrieve(reference, QUESTION, RetrievalConfig(k=10))
    assert any(h.chunk.heading_path[-1:] == ("csv.DictReader",) for h in hits)


def test_demo_question_over_the_reference_names_the_entry_it_quotes(reference: Collection
                                                                    ) -> None:
    x = ask(QUESTION, collection=reference, answer="extractive")
    y = ask(QUESTION, collection=reference, answer="extractive")
    assert x.text == y.text and x.status == "answered"
    cit = x.citations[0]
    assert cit.source.endswith("csv.html") and cit.quote in cit.text
    entry = cit.location.split(" > ")[-1].split(",")[0]
    assert entry.startswith("csv.") and x.text.startswith(f"{entry}: ")


@pytest.mark.xfail(strict=True, reason=(
    "over the csv page of the library reference, csv.DictReader's entry ranks 4th-5th for "
    "the question (hybrid; k=3 is the default), below the Examples section, "
    "csv.Sniffer.has_header and csv.reader: its text never says 'header' (it says the first "
    "row gives the fieldnames), and none of MiniLM similarity, the fitted sentence scorer or "
    "SmolLM2-135M's likelihood links 'header row' to it (measured: the model scores "
    "'csv.reader' above 'csv.DictReader' as the answer); needs a stronger reader"))
def test_demo_question_answers_dictreader(reference: Collection) -> None:
    a = ask(QUESTION, collection=reference, answer="extractive")  # auto falls back to this
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
