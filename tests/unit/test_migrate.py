"""Embedding-model migration: shadow vectors, resume after kill -9, atomic switch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.embed.fake import HashEmbedder
from ponder.errors import (
    CollectionError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
)
from ponder.store.collection import Collection
from ponder.store.index_state import IndexSpec, IndexState
from ponder.store.migrate import (
    MigrationProgress,
    abort_migration,
    migrate_collection,
    migration_status,
)
from ponder.types import Chunk

N = 40
WORDS = ["cat", "dog", "tea", "stock", "bird", "rain", "code", "song"]
TEXTS = [f"{WORDS[i % 8]} {WORDS[(i * 3) % 8]} note number {i}" for i in range(N)]
QUERIES = ["cat tea", "stock song", "bird rain code"]


def old_embedder() -> HashEmbedder:
    return HashEmbedder(dim=32)


def new_embedder() -> HashEmbedder:
    return HashEmbedder(dim=64)  # registry name "hash": model hash-64


@pytest.fixture
def notes(home):
    with Collection.create("notes", home=home, embedder=old_embedder()) as c:
        c.add(ids=[f"n{i}" for i in range(N)], texts=TEXTS)
    return home


def answers(col: Collection) -> list[list[tuple[str, float]]]:
    return [[(h.chunk.id, round(h.score, 5)) for h in col.search(q, k=5)] for q in QUERIES]


def stored_models(col: Collection) -> dict[str, int]:
    rows = col.catalog.conn.execute("SELECT model, COUNT(*) FROM embeddings GROUP BY model")
    return dict(rows.fetchall())


def expected_answers(home) -> list[list[tuple[str, float]]]:
    """What a collection built directly with the new embedder answers."""
    with Collection.create("direct", home=home, embedder=new_embedder()) as c:
        c.add(ids=[f"n{i}" for i in range(N)], texts=TEXTS)
        return answers(c)


def test_migration_switches_model_and_search_uses_the_new_embedder(notes):
    report = migrate_collection("notes", "hash", home=notes, batch_size=7)
    assert (report.from_model, report.to_model, report.dim) == ("hash-32", "hash-64", 64)
    assert (report.embedded, report.resumed_from, report.chunks) == (N, 0, N)
    with Collection.open("notes", home=notes) as c:
        assert (c.model_id, c.dim) == ("hash-64", 64)
        assert stored_models(c) == {"hash-64": N}  # the old vectors are gone
        assert c.catalog.count_shadow() == 0
        assert c.info()["migration"] is None
        got = answers(c)
        assert c.index_state.notices == []  # the migration saved the new index
    assert got == expected_answers(notes)


def test_searches_during_migration_use_the_old_vectors_and_old_ones_stay_until_switch(notes):
    reader = Collection.open("notes", home=notes, embedder=old_embedder())
    before = answers(reader)
    seen = []

    class Check(MigrationProgress):
        def batch_done(self, n, done, total):
            assert answers(reader) == before
            assert stored_models(reader) == {"hash-32": N}
            assert reader.catalog.count_shadow() == done
            seen.append(done)

    migrate_collection("notes", "hash", home=notes, batch_size=10, progress=Check())
    assert seen == [10, 20, 30, 40]
    # the open reader follows the switch on its next search: new embedder, rebuilt index
    assert answers(reader) == expected_answers(notes)
    assert (reader.model_id, reader.dim, reader.embedder.model_id) == ("hash-64", 64, "hash-64")
    reader.close()


def test_chunks_written_during_migration_are_reembedded_before_the_switch(notes):
    writer = Collection.open("notes", home=notes, embedder=old_embedder())

    class AddOne(MigrationProgress):
        def batch_done(self, n, done, total):
            if done == 20:
                writer.add(ids=["late"], texts=["a late tea note about herons"])
                writer.delete(ids=["n0"])

    report = migrate_collection("notes", "hash", home=notes, batch_size=20, progress=AddOne())
    assert report.chunks == N
    with Collection.open("notes", home=notes) as c:
        assert stored_models(c) == {"hash-64": N}
        vec = c.vectors(["late"])["late"]
        np.testing.assert_allclose(vec, new_embedder().embed(["a late tea note about herons"])[0])
        assert c.search("late herons", k=1)[0].chunk.id == "late"
    # the writer's next write carries old-model vectors: refused, nothing written
    chunk = Chunk(id="x:0", doc_id="x", text="stale words", end=11)
    with pytest.raises(EmbeddingMismatchError, match="migrated"):
        writer.write_chunks("x", [chunk], np.ones((1, 32), np.float32), model="hash-32")
    # add() embeds with the collection's current model, so it works after following
    writer.add(ids=["after"], texts=["written after the switch"])
    assert writer.model_id == "hash-64"
    writer.close()


CHILD = textwrap.dedent(
    """
    import sys
    from ponder.store.migrate import MigrationProgress, migrate_collection

    class Pause(MigrationProgress):
        def batch_done(self, n, done, total):
            print(f"done {done}", flush=True)
            if done == 10:
                sys.stdin.readline()  # wait here until the test kills this process

    migrate_collection("notes", "hash", home=sys.argv[1], batch_size=5, progress=Pause())
    print("finished", flush=True)
    """
)


def test_kill_9_mid_migration_then_resume(notes):
    reader = Collection.open("notes", home=notes, embedder=old_embedder())
    before = answers(reader)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(notes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PONDER_HOME": str(notes)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "done 5"
        assert child.stdout.readline().strip() == "done 10"
        # mid-migration: searches answer from the old vectors
        assert answers(reader) == before
        assert stored_models(reader) == {"hash-32": N}
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    status = migration_status("notes", home=notes)
    assert status is not None
    assert (status.done, status.total, status.to_model) == (10, N, "hash-64")
    assert answers(reader) == before  # still the old model after the crash
    assert reader.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counting = new_embedder()
    report = migrate_collection("notes", counting, home=notes, batch_size=5)
    assert (report.resumed_from, report.embedded) == (10, N - 10)
    assert counting.texts_embedded == N - 10  # the committed batches were not redone
    assert answers(reader) == expected_answers(notes)
    assert migration_status("notes", home=notes) is None
    reader.close()


def test_refusals_and_abort(notes, home):
    with pytest.raises(ConfigError, match="already embedded"):
        migrate_collection("notes", old_embedder(), home=notes)
    with pytest.raises(CollectionNotFoundError):
        migrate_collection("nope", "hash", home=notes)
    with pytest.raises(ConfigError, match="batch_size"):
        migrate_collection("notes", "hash", home=notes, batch_size=0)
    with Collection.create("vecs", home=notes, embedder=False, dim=4) as c:
        c.add(ids=["a"], embeddings=[[1, 0, 0, 0]])
    with pytest.raises(ConfigError, match="precomputed"):
        migrate_collection("vecs", "hash", home=notes)

    class Stop(MigrationProgress):
        def batch_done(self, n, done, total):
            raise KeyboardInterrupt

    with pytest.raises(ConfigError, match="no registry name"):
        migrate_collection("notes", HashEmbedder(dim=48), home=notes)
    with pytest.raises(KeyboardInterrupt):
        migrate_collection("notes", "hash", home=notes, batch_size=8, progress=Stop())
    other = HashEmbedder(dim=48)
    other.name = "hash-48-for-this-test"
    with pytest.raises(CollectionError, match="--embedder hash"):
        migrate_collection("notes", other, home=notes)
    assert abort_migration("notes", home=notes) is True
    assert abort_migration("notes", home=notes) is False
    with Collection.open("notes", home=notes, embedder=old_embedder()) as c:
        assert c.catalog.count_shadow() == 0 and stored_models(c) == {"hash-32": N}
    report = migrate_collection("notes", "hash", home=notes)
    assert (report.resumed_from, report.embedded) == (0, N)


def test_index_file_of_another_model_is_rebuilt(notes):
    with Collection.open("notes", home=notes, embedder=old_embedder()) as c:
        c.search("cat", k=1)  # loads the index; close() leaves it saved for hash-32
        spec = c.index_state.spec
        other = IndexState(c.folder, c.catalog, IndexSpec(**{**vars(spec), "model": "hash-x"}))
        other.get()
        assert any("another embedding model" in n for n in other.notices)


def cli(home, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), "collections", *args])


def test_cli_migrate_status_json_and_resume(notes):
    result = cli(notes, "migrate", "notes", "--status")
    assert result.exit_code == 0, result.output
    assert "no migration in progress" in result.stdout
    with pytest.raises(KeyboardInterrupt):

        class Stop(MigrationProgress):
            def batch_done(self, n, done, total):
                raise KeyboardInterrupt

        migrate_collection("notes", "hash", home=notes, batch_size=16, progress=Stop())
    result = cli(notes, "migrate", "notes", "--status", "--json")
    assert json.loads(result.stdout)["done"] == 16
    result = cli(notes, "migrate", "notes", "--embedder", "hash", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["resumed_from"], report["embedded"], report["to_model"]) == (16, 24, "hash-64")
    result = cli(notes, "migrate", "notes", "--embedder", "hash")
    assert result.exit_code != 0
    assert "already embedded" in str(result.exception) + result.output
    result = cli(notes, "info", "notes", "--json")
    assert json.loads(result.stdout)["model"] == "hash-64"


def test_a_migration_aborted_from_elsewhere_stops_with_a_clear_error(notes):
    class AbortMidway(MigrationProgress):
        def batch_done(self, n, done, total):
            assert abort_migration("notes", home=notes)

    with pytest.raises(CollectionError, match="aborted or finished by another process"):
        migrate_collection("notes", "hash", home=notes, batch_size=10, progress=AbortMidway())
    with Collection.open("notes", home=notes, embedder=old_embedder()) as c:
        assert stored_models(c) == {"hash-32": N} and c.catalog.count_shadow() == 0


def test_index_settings_changed_during_migration_are_kept(notes):
    other = Collection.open("notes", home=notes, embedder=old_embedder())

    class Rebuild(MigrationProgress):
        def batch_done(self, n, done, total):
            if done == 20:
                other.build_index("hnsw", m=8)

    migrate_collection("notes", "hash", home=notes, batch_size=20, progress=Rebuild())
    other.close()
    with Collection.open("notes", home=notes) as c:
        info = c.info()
        assert (info["index"], info["index_params"], info["model"]) == ("hnsw", {"m": 8}, "hash-64")
        assert c.search("cat tea", k=1)[0].chunk.id == expected_answers(notes)[0][0][0]
