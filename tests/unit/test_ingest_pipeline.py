from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ponder.embed.fake import HashEmbedder
from ponder.ingest.pipeline import IngestProgress
from ponder.store.collection import Collection


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "docs"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("Cats purr when they are content.\n\nDogs wag their tails.")
    (d / "b.md").write_text("# Guide\n\nInstall with pip.\n\n## Usage\n\nRun the command.")
    (d / "sub" / "c.html").write_text(
        "<html><head><title>T</title></head><body><nav>Home | About</nav>"
        "<main><h1>Birds</h1><p>Penguins cannot fly.</p></main></body></html>"
    )
    (d / "rows.csv").write_text("text,year\nfirst row text,2020\nsecond row text,2021\n")
    (d / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (d / "empty.txt").write_text("   \n")
    (d / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00")
    return d


@pytest.fixture
def col(home):
    c = Collection.create("docs", home=home, embedder=HashEmbedder(dim=64))
    yield c
    c.close()


def test_folder_ingest_reports_bad_files_and_keeps_the_rest(col, folder):
    report = col.ingest([folder])
    assert report.added == 5  # a.txt, b.md, c.html, two csv rows
    skipped = {s.rsplit("/", 1)[-1]: r for s, r in report.skipped}
    assert set(skipped) == {"broken.pdf", "empty.txt", "blob.txt"}
    assert all(reason for reason in skipped.values())
    hits = col.search("penguins fly", k=1)
    assert hits[0].chunk.source.endswith("c.html")
    assert "Home | About" not in hits[0].chunk.text
    md = [c for c in col.get() if c.source.endswith("b.md")]
    assert any(c.heading_path[-1:] == ("Usage",) for c in md)
    rows = col.get(where={"year": 2021})
    assert [c.text for c in rows] == ["second row text"]


def test_reingest_is_idempotent_and_embeds_nothing(col, folder):
    col.ingest([folder])
    emb = col.embedder
    before = (emb.texts_embedded, col.catalog.version())
    report = col.ingest([folder])
    assert (report.added, report.updated, report.chunks) == (0, 0, 0)
    assert report.unchanged == 5
    assert (emb.texts_embedded, col.catalog.version()) == before


def test_changed_file_is_replaced_and_unchanged_chunks_not_reembedded(col, folder):
    col.ingest([folder])
    n = col.count()
    emb = col.embedder
    (folder / "b.md").write_text(
        "# Guide\n\nInstall with pip.\n\n## Usage\n\nRun the command twice."
    )
    before = emb.texts_embedded
    report = col.ingest([folder])
    assert report.updated == 1 and report.added == 0
    assert col.count() == n
    assert emb.texts_embedded - before == report.chunks_embedded <= 2
    assert any("twice" in c.text for c in col.get())
    assert not any(c.text.endswith("Run the command.") for c in col.get())


def test_rows_removed_from_csv_and_sync_removes_missing_files(col, folder):
    col.ingest([folder])
    (folder / "rows.csv").write_text("text,year\nfirst row text,2020\n")
    report = col.ingest([folder])
    assert report.removed == 1
    assert [c.text for c in col.get(where={"year": {"$exists": True}})] == ["first row text"]
    (folder / "a.txt").unlink()
    report = col.ingest([folder], sync=True)
    assert report.removed == 1
    assert not any(c.source.endswith("a.txt") for c in col.get())


def test_include_exclude(col, folder):
    report = col.ingest([folder], include=["*.md", "*.html"], exclude=["sub/**"])
    assert report.added == 1
    assert all(c.source.endswith("b.md") for c in col.get())


def test_interrupt_keeps_committed_documents_and_resumes(col, folder, home, monkeypatch):
    class Boom(IngestProgress):
        def __init__(self):
            self.files = 0

        def file_done(self, source):
            self.files += 1
            if self.files == 3:
                raise KeyboardInterrupt

    from ponder.ingest import pipeline

    monkeypatch.setattr(pipeline, "FLUSH_CHUNKS", 1)  # commit each document once chunked
    with pytest.raises(KeyboardInterrupt):
        col.ingest([folder], progress=Boom())
    partial = col.count()
    assert partial > 0
    col.close()
    again = Collection.open("docs", home=home, embedder=HashEmbedder(dim=64))
    assert again.count() == partial
    report = again.ingest([folder])
    assert report.added + report.unchanged == 5
    assert again.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again.close()


def test_changing_chunk_size_rechunks(col, folder, monkeypatch):
    long = " ".join(f"Sentence number {i} says something." for i in range(200))
    (folder / "long.txt").write_text(long)
    col.ingest([folder / "long.txt"])
    n1 = col.count()
    monkeypatch.setenv("PONDER_CHUNK_TOKENS", "64")
    monkeypatch.setenv("PONDER_CHUNK_OVERLAP", "8")
    report = col.ingest([folder / "long.txt"])
    assert report.updated == 1 and col.count() > n1


def test_pydoc_ingest_and_reingest(col):
    report = col.ingest_pydoc(["heapq", "bisect", "not_a_module_xyz"])
    assert report.added == 2
    assert any("not_a_module_xyz" in s for s, _ in report.skipped)
    assert col.search("heap queue push pop", k=1)[0].chunk.source == "pydoc:heapq"
    again = col.ingest_pydoc(["heapq", "bisect"])
    assert again.unchanged == 2 and again.chunks == 0


def test_cli_ingest_search_collections(home, folder):
    from typer.testing import CliRunner

    from ponder.cli.main import app

    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(folder), "-c", "cli", "--embedder", "hash", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout[res.stdout.index("{") :])
    assert report["added"] == 5 and len(report["skipped"]) == 3
    res = runner.invoke(app, ["search", "penguins fly", "-c", "cli", "-k", "2", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert {"id", "score", "text", "source", "metadata"} <= set(rows[0])
    assert rows[0]["source"].endswith("c.html")
    res = runner.invoke(app, ["search", "x", "-c", "cli", "--where", '{"year": {"$bad": 1}}'])
    assert res.exit_code != 0 and "$bad" in str(res.exception)
    res = runner.invoke(app, ["collections", "info", "cli", "--json"])
    assert json.loads(res.stdout)["chunks"] == 6
    res = runner.invoke(app, ["collections", "list"])
    assert "cli" in res.stdout
    res = runner.invoke(app, ["collections", "drop", "cli", "--yes"])
    assert res.exit_code == 0


def test_the_pipeline_uses_the_store_only_through_its_public_api():
    """``ponder.ingest`` imports nothing of ``ponder.store`` (``Collection`` is a type hint
    only), so store -> ingest is one-way: no import cycle."""
    code = (
        "import sys, ponder.ingest.pipeline; "
        "print(sorted(m for m in sys.modules if m.startswith('ponder.store')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import ponder.store.collection as c; print(c.Collection.ingest.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ingest"
