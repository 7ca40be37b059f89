"""The Python library reference as demo text: Sphinx API entries become headings named by the
entry (``csv.DictReader``), permalink pilcrows are dropped, ``$PONDER_PYTHON_DOCS`` finds the
pages, and the demo ingests a module's reference page in place of its pydoc text."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.demo import ingest_stdlib
from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError
from ponder.ingest.chunking import chunk_document
from ponder.ingest.html import parse_html
from ponder.ingest.pydoc_source import REFERENCE_ENV, reference_dir, reference_pages
from ponder.rag import ask
from ponder.store.collection import Collection

SPHINX = """<html><head><title>csv — CSV File Reading and Writing</title></head><body>
<div class="body" role="main"><section id="module-csv">
<h1>csv — CSV File Reading and Writing<a class="headerlink" href="#module-csv">¶</a></h1>
<p>The csv module implements classes to read and write tabular data in CSV format.</p>
<section id="module-contents"><h2>Module Contents<a class="headerlink" href="#mc">¶</a></h2>
<dl class="py class"><dt class="sig sig-object py" id="csv.DictReader">
<em class="property">class </em>
<span class="sig-prename">csv.</span><span>DictReader</span>(<em>f</em>, <em>fieldnames=None</em>)
<a class="headerlink" href="#csv.DictReader">¶</a></dt>
<dd><p>Create an object that maps the information in each row to a dict.</p>
<p>If fieldnames is omitted, the values in the first row of file f will be used as the
fieldnames.</p>
<dl class="py method"><dt class="sig sig-object py" id="csv.DictReader.close">close()</dt>
<dd><p>Close the reader.</p></dd></dl>
</dd></dl>
<dl class="py function"><dt class="sig sig-object py" id="csv.reader">csv.reader(<em>csvfile</em>)
</dt><dd><p>Return a reader object which iterates over lines of csvfile.</p></dd></dl>
<dl class="py function"><dt class="sig sig-object py">csv.writer(<em>csvfile</em>)</dt>
<dd><p>Return a writer object.</p></dd></dl>
</section></section></div></body></html>"""


def test_api_entries_become_headings_named_by_the_entry() -> None:
    doc = parse_html(SPHINX, "csv.html")
    heads = [(doc.text[b.start:b.end], b.level) for b in doc.blocks if b.kind == "heading"]
    assert heads == [
        ("csv — CSV File Reading and Writing", 1), ("Module Contents", 2),
        ("csv.DictReader", 3), ("csv.DictReader.close", 4), ("csv.reader", 3),
        ("csv.writer(csvfile)", 3),  # no id: the signature itself names the entry
    ]
    assert "¶" not in doc.text
    assert "class csv.DictReader(f, fieldnames=None)" in doc.text  # the signature stays


def test_every_chunk_of_an_entry_carries_its_name() -> None:
    doc = parse_html(SPHINX, "csv.html")
    chunks = chunk_document(doc, HashEmbedder().tokenize, chunk_tokens=24, overlap=4)
    first_row = [c for c in chunks if "first row" in c.text]
    assert first_row and all(c.heading_path[-1] == "csv.DictReader" for c in first_row)
    assert "csv.DictReader" in first_row[0].location
    reader = next(c for c in chunks if "iterates over lines" in c.text)
    assert reader.heading_path == ("csv — CSV File Reading and Writing", "Module Contents",
                                   "csv.reader")  # the method's level was left


def _docs(tmp_path: Path, *pages: str) -> Path:
    lib = tmp_path / "html" / "library"
    lib.mkdir(parents=True)
    (lib / "intro.html").write_text("<p>The Python Standard Library.</p>")
    for name in pages:
        (lib / f"{name}.html").write_text(SPHINX)
    return lib


def test_reference_pages_come_from_the_folder_the_variable_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _docs(tmp_path, "csv")
    for root in (lib, lib.parent):  # the library folder or the html root above it
        monkeypatch.setenv(REFERENCE_ENV, str(root))
        assert reference_dir() == lib
        assert reference_pages(["csv", "json"]) == {"csv": lib / "csv.html"}
    monkeypatch.setenv(REFERENCE_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=f"{REFERENCE_ENV}=.*python3-doc"):
        reference_pages(["csv"])


def test_demo_ingest_prefers_the_reference_and_drops_the_old_pydoc_text(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = _docs(tmp_path)  # no csv page yet: pydoc it is
    monkeypatch.setenv(REFERENCE_ENV, str(lib))
    with Collection.create("stdlib", home=home, embedder=HashEmbedder(dim=64)) as col:
        ingest_stdlib(col, ["csv"])
        assert col.sources() == ["pydoc:csv"]
        (lib / "csv.html").write_text(SPHINX)
        (report,) = ingest_stdlib(col, ["csv"])
        assert report.added == 1 and report.removed == 1
        assert col.sources() == [str(lib / "csv.html")]
        a = ask("Which fieldnames are used when fieldnames is omitted?", collection=col,
                answer="extractive", min_score=-1)
        assert a.text.startswith("csv.DictReader: ") and "first row" in a.text
        assert "csv.DictReader" in a.citations[0].location
        assert ingest_stdlib(col, ["csv"])[0].unchanged == 1  # a second run changes nothing
