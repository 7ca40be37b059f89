from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from ponder.embed.fake import HashEmbedder
from ponder.errors import (
    CollectionClosedError,
    CollectionExistsError,
    CollectionLockedError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
    FilterError,
    InputError,
)
from ponder.store.collection import Collection

TEXTS = [
    "cats purr and sleep in the sun",
    "dogs bark at the mail carrier",
    "stock markets fell sharply today",
    "the central bank raised interest rates",
    "a kitten chased a ball of yarn",
]


@pytest.fixture
def col(home):
    c = Collection.create("notes", home=home, embedder=HashEmbedder(dim=64))
    c.add(
        ids=[f"d{i}" for i in range(len(TEXTS))],
        texts=TEXTS,
        metadatas=[
            {"topic": t, "n": i} for i, t in enumerate(["pets", "pets", "money", "money", "pets"])
        ],
    )
    yield c
    c.close()


def test_search_ranks_related_text_first(col):
    hits = col.search("purring cats in the sun", k=2)
    assert hits[0].chunk.id == "d0"
    assert [h.rank for h in hits] == [1, 2]
    assert hits[0].score >= hits[1].score


def test_filtered_search_returns_only_matches_and_k_rows(col):
    hits = col.search("cats", k=3, where={"topic": "money"})
    assert {h.chunk.id for h in hits} == {"d2", "d3"}
    hits = col.search("cats", k=2, where={"n": {"$gte": 1}})
    assert len(hits) == 2 and all(h.chunk.metadata["n"] >= 1 for h in hits)
    assert col.search("cats", where={"topic": "none"}) == []


def test_get_update_delete_count(col):
    assert [c.id for c in col.get(["d3", "zz", "d1"])] == ["d3", "d1"]
    assert {c.id for c in col.get(where={"topic": "pets"})} == {"d0", "d1", "d4"}
    col.update(["d1"], metadatas=[{"topic": "money"}])
    assert col.get(["d1"])[0].metadata == {"topic": "money"}
    col.update(["d1"], metadatas=[{"extra": 1}], merge=True)
    assert col.get(["d1"])[0].metadata == {"topic": "money", "extra": 1}
    assert col.delete(where={"topic": "money"}) == 3
    assert col.count() == 2
    assert all(h.chunk.id in {"d0", "d4"} for h in col.search("bank rates", k=5))
    with pytest.raises(InputError):
        col.delete()
    with pytest.raises(InputError, match="unknown ids"):
        col.update(["nope"], metadatas=[{}])


def test_add_replaces_existing_ids(col):
    col.add(ids=["d0"], texts=["interest rates and bonds"], metadatas=[{"topic": "money"}])
    assert col.count() == len(TEXTS)
    assert col.search("bonds interest", k=1)[0].chunk.id == "d0"


def test_precomputed_embeddings_and_dimension_check(home):
    c = Collection.create("vecs", home=home, embedder=False, dim=3, metric="l2")
    c.add(ids=["a", "b"], embeddings=[[0, 0, 0], [1, 1, 1]])
    hits = c.search(embedding=[0.9, 1, 1], k=1)
    assert hits[0].chunk.id == "b" and hits[0].distance == pytest.approx(0.1, abs=1e-5)
    with pytest.raises(EmbeddingMismatchError, match=r"\(1, 3\)"):
        c.add(ids=["c"], embeddings=[[1, 2]])
    assert c.count() == 2
    with pytest.raises(ConfigError, match="no embedder"):
        c.search("text query")


def test_persistence_round_trip(col, home):
    col.close()
    again = Collection.open("notes", home=home, embedder=HashEmbedder(dim=64))
    assert again.count() == len(TEXTS)
    assert again.search("kitten yarn", k=1)[0].chunk.id == "d4"
    assert again.index_state.notices == []
    again.close()


def test_stale_index_is_caught_up_and_corrupt_index_rebuilt(col, home):
    col.close()
    # another process writes without this one's index: simulate by writing through a second handle
    other = Collection.open("notes", home=home, embedder=HashEmbedder(dim=64))
    other.add(ids=["new"], texts=["penguins waddle on ice"])
    other.catalog.close()  # closed without saving its index
    c = Collection.open("notes", home=home, embedder=HashEmbedder(dim=64))
    assert c.search("penguins on ice", k=1)[0].chunk.id == "new"
    assert any("caught up" in n for n in c.index_state.notices)
    c.close()
    (c.folder / "index.faiss").write_bytes(b"garbage")
    c = Collection.open("notes", home=home, embedder=HashEmbedder(dim=64))
    assert c.search("penguins on ice", k=1)[0].chunk.id == "new"
    assert any("rebuilt" in n for n in c.index_state.notices)
    c.close()


def test_open_with_other_model_is_refused(col, home):
    col.close()
    with pytest.raises(EmbeddingMismatchError, match="hash-64"):
        Collection.open("notes", home=home, embedder=HashEmbedder(dim=32))


def test_create_open_list_drop(home):
    with pytest.raises(CollectionNotFoundError, match="ponder ingest"):
        Collection.open("missing", home=home)
    Collection.create("a1", home=home, embedder=HashEmbedder()).close()
    with pytest.raises(CollectionExistsError):
        Collection.create("a1", home=home, embedder=HashEmbedder())
    assert Collection.list(home) == ["a1"]
    Collection.drop("a1", home=home)
    assert Collection.list(home) == []
    with pytest.raises(ConfigError, match="invalid collection name"):
        Collection.create("../evil", home=home)


def test_bad_arguments(col):
    with pytest.raises(ConfigError, match="k must be"):
        col.search("x", k=0)
    with pytest.raises(FilterError, match=r"\$bogus"):
        col.search("x", where={"a": {"$bogus": 1}})
    with pytest.raises(InputError, match="2 metadatas for 1 ids"):
        col.add(ids=["z"], texts=["t"], metadatas=[{}, {}])
    with pytest.raises(ConfigError, match="metric"):
        Collection.create("m", embedder=HashEmbedder(), metric="hamming")


def test_failed_write_leaves_collection_unchanged(col):
    before = col.count()
    with pytest.raises(EmbeddingMismatchError):
        col.add(ids=["x", "y"], embeddings=np.array([[1.0] * 64, [np.nan] * 64]))
    assert col.count() == before


def test_second_writer_gets_a_clear_lock_error(col):
    holder = sqlite3.connect(str(col.folder / "catalog.sqlite"))
    holder.execute("BEGIN IMMEDIATE")
    col.catalog.conn.execute("PRAGMA busy_timeout = 100")
    col.catalog.timeout = 0.1
    try:
        with pytest.raises(CollectionLockedError, match="another process"):
            col.add(ids=["late"], texts=["late text"])
    finally:
        holder.rollback()
        holder.close()
    col.add(ids=["late"], texts=["late text"])
    assert col.get(["late"])


def test_concurrent_processes_never_corrupt(home, tmp_path):
    Collection.create("shared", home=home, embedder=HashEmbedder()).close()
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys\n"
        "from ponder.embed.fake import HashEmbedder\n"
        "from ponder.store.collection import Collection\n"
        "c = Collection.open('shared', home=sys.argv[1], embedder=HashEmbedder())\n"
        "for i in range(30):\n"
        "    c.add(ids=[f'{sys.argv[2]}-{i}'], texts=[f'text {i} from {sys.argv[2]}'])\n"
        "c.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), str(home), name]) for name in ("p", "q")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    c = Collection.open("shared", home=home, embedder=HashEmbedder())
    assert c.count() == 60
    assert len(c.search("text from p", k=60)) == 60
    ok = c.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0]
    assert ok == "ok"
    c.close()


def test_info_reports_counts_and_settings(col):
    info = col.info()
    assert info["chunks"] == 5 and info["documents"] == 5
    assert info["model"] == "hash-64" and info["dimension"] == 64 and info["index"] == "flat"
    json.dumps(info)


def test_keyword_search_bm25_with_filter(col):
    hits = col.keyword_search("bank interest rates", k=3)
    assert hits[0].chunk.id == "d3" and hits[0].found_by == "bm25"
    assert col.keyword_search("cats", where={"topic": "money"}) == []
    assert col.keyword_search('") OR NEAR(', k=3) == []  # FTS syntax in user text is inert
    col.delete(ids=["d3"])
    assert all(h.chunk.id != "d3" for h in col.keyword_search("bank interest rates"))


def test_use_after_close_names_the_collection_and_the_fix(home):
    with Collection.create("closed", home=home, embedder=HashEmbedder(dim=16)) as c:
        c.add(ids=["a"], texts=["cats purr"])
    for call in (c.count, lambda: c.search("cats"), lambda: c.get(["a"])):
        with pytest.raises(CollectionClosedError, match=r"'closed' was closed.*open it again"):
            call()
    c.close()  # closing twice is harmless


def test_create_with_wrong_dim_leaves_nothing_behind(home):
    with pytest.raises(EmbeddingMismatchError, match="pass dim=16"):
        Collection.create("wrongdim", home=home, embedder=HashEmbedder(dim=16), dim=8)
    assert "wrongdim" not in Collection.list(home=home)
    with Collection.create("wrongdim", home=home, embedder=HashEmbedder(dim=16)) as c:
        assert c.dim == 16


def test_add_numpy_embeddings_without_ids(home):
    with Collection.create("vecs", home=home, embedder=False, dim=4) as c:
        vectors = np.eye(4, dtype=np.float32)[:3]
        with pytest.raises(InputError, match=r"need ids=\[\.\.\.\] \(one per vector\)"):
            c.add(embeddings=vectors)  # no ids and no texts: nothing to name the records by
        c.add(ids=["a", "b", "c"], embeddings=vectors)
        assert c.count() == 3


def test_batch_commits_all_writes_together_or_none(col):
    before = (col.count(), col.catalog.version(), col.search("cats", k=3))
    with pytest.raises(RuntimeError), col.batch():
        col.add(ids=["x"], texts=["a parrot talks"])
        col.delete(ids=["d0"])
        raise RuntimeError("stop")
    after = (col.count(), col.catalog.version(), col.search("cats", k=3))
    assert [h.chunk.id for h in after[2]] == [h.chunk.id for h in before[2]]
    assert after[:2] == before[:2]
    with col.batch():
        col.add(ids=["x"], texts=["a parrot talks"])
        col.delete(ids=["d0"])
    assert col.catalog.version() == before[1] + 1  # one transaction
    assert col.search("parrot talks", k=1)[0].chunk.id == "x"
    assert not col.get(ids=["d0"])


def test_public_lookups_for_ingest_and_retrieval(col):
    vecs = col.vectors(["d1", "nope", "d2"])
    assert set(vecs) == {"d1", "d2"}
    np.testing.assert_allclose(vecs["d1"], col.embedder.embed([TEXTS[1]])[0], rtol=1e-6)
    stored = col.stored_vectors([TEXTS[2], "never written"])
    assert list(stored) == [TEXTS[2]]
    np.testing.assert_allclose(stored[TEXTS[2]], vecs["d2"])
    assert col.stored_vectors([TEXTS[2]], model="other-model") == {}
    assert set(col.document_hashes(["d0", "nope"])) == {"d0"}
    assert col.sources() == [] and col.documents_for_source("x.txt") == {}
