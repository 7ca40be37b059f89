"""The search execution (``ponder.store.search``): the row cache stays correct under every
kind of write, hits are fresh objects, in-place exact scoring (``exact_top``) agrees with
scoring reconstructed vectors, and the planner's per-filter cache follows writes."""

from __future__ import annotations

import numpy as np
import pytest

from ponder.store.collection import Collection
from ponder.store.indexes import exact_scores, make_index
from ponder.store.search import RowCache, VectorSearch, fresh_chunk
from ponder.types import Chunk

DIM = 8


pytestmark = pytest.mark.usefixtures("one_faiss_thread")


@pytest.fixture
def col(tmp_path):
    rng = np.random.default_rng(0)
    c = Collection.create("s", home=tmp_path, embedder=False, dim=DIM, index="hnsw")
    c.add(
        ids=[f"r{i}" for i in range(60)],
        texts=[f"text {i}" for i in range(60)],
        embeddings=rng.normal(size=(60, DIM)).astype(np.float32),
        metadatas=[{"n": i, "even": i % 2 == 0, "tags": ["t", str(i)]} for i in range(60)],
    )
    yield c
    c.close()


def vec(col: Collection, cid: str) -> np.ndarray:
    pk = col.catalog.pks_for_ids([cid])[cid]
    return col.catalog.vectors_by_pk([pk])[pk]


def test_repeated_search_is_served_from_the_row_cache(col):
    q = vec(col, "r3")
    first = [h.chunk for h in col.search(embedding=q, k=5)]
    rows = col._searcher().rows
    hits_before = rows.hits
    again = [h.chunk for h in col.search(embedding=q, k=5)]
    assert again == first
    assert rows.hits == hits_before + 5


def test_cached_rows_follow_update_delete_add_and_replace(col):
    q = vec(col, "r3")
    assert col.search(embedding=q, k=1)[0].chunk.metadata["n"] == 3
    col.update(["r3"], [{"n": 300}])
    assert col.search(embedding=q, k=1)[0].chunk.metadata == {"n": 300}
    col.update(["r3"], [{"extra": True}], merge=True)
    assert col.search(embedding=q, k=1)[0].chunk.metadata == {"n": 300, "extra": True}
    col.add(ids=["r3"], texts=["replaced"], embeddings=[q], metadatas=[{"n": -1}])
    top = col.search(embedding=q, k=1)[0].chunk
    assert (top.text, top.metadata) == ("replaced", {"n": -1})
    col.delete(ids=["r3"])
    assert "r3" not in [h.chunk.id for h in col.search(embedding=q, k=10)]
    col.add(ids=["new"], texts=["new one"], embeddings=[q])
    assert col.search(embedding=q, k=1)[0].chunk.id == "new"


def test_a_write_by_another_process_invalidates_the_cache(col, tmp_path):
    q = vec(col, "r5")
    assert col.search(embedding=q, k=1)[0].chunk.metadata["n"] == 5
    with Collection.open("s", home=tmp_path, embedder=False) as other:
        other.update(["r5"], [{"n": "changed elsewhere"}])
    assert col.search(embedding=q, k=1)[0].chunk.metadata == {"n": "changed elsewhere"}


def test_editing_a_hit_does_not_change_the_next_search(col):
    q = vec(col, "r7")
    hit = col.search(embedding=q, k=1)[0]
    hit.chunk.metadata["n"] = "edited"
    hit.chunk.metadata["tags"].append("edited")
    again = col.search(embedding=q, k=1)[0].chunk.metadata
    assert again == {"n": 7, "even": False, "tags": ["t", "7"]}


def test_fresh_chunk_copies_nested_metadata_and_keeps_the_rest():
    c = Chunk(id="a", doc_id="d", text="t", heading_path=("h",), metadata={"x": {"y": [1]}})
    f = fresh_chunk(c)
    assert f == c and f is not c
    f.metadata["x"]["y"].append(2)
    assert c.metadata == {"x": {"y": [1]}}
    flat = fresh_chunk(Chunk(id="b", doc_id="d", text="t", metadata={"k": 1}), True)
    assert flat.metadata == {"k": 1}


def test_row_cache_is_bounded_and_size_zero_reads_the_catalog(col):
    cache = RowCache(size=3)
    pks = col.catalog.pks_where(None).tolist()
    got = cache.fetch(col.catalog, pks[:10], version=1)
    assert sorted(got) == sorted(pks[:10]) and len(cache) == 3
    assert cache.fetch(col.catalog, [pks[9]], version=1)[pks[9]].id == got[pks[9]].id
    assert cache.hits == 1
    cache.fetch(col.catalog, [pks[9]], version=2)  # another version: starts again
    assert cache.hits == 1 and len(cache) == 1
    none = RowCache(size=0)
    assert len(none.fetch(col.catalog, pks[:4], version=1)) == 4 and len(none) == 0
    assert cache.fetch(col.catalog, [10**9], version=2) == {}  # unknown pks are left out


def test_cold_and_warm_searches_return_the_same_hits(col):
    index = col.index_state.get()
    cold = VectorSearch(col.catalog, cache_size=0)
    for cid in ("r1", "r2", "r40"):
        q = vec(col, cid).reshape(1, -1)
        warm = col.search(embedding=q[0], k=6)
        got = cold.run(index, col.index_state.version, q, 6, None, "auto")
        assert [(h.chunk, h.score, h.rank) for h in got] == [
            (h.chunk, h.score, h.rank) for h in warm
        ]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
@pytest.mark.parametrize("metric", ["cosine", "dot", "l2", "l1"])
def test_exact_top_matches_scoring_reconstructed_vectors(kind, metric):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, DIM)).astype(np.float32)
    pks = np.arange(300, dtype=np.int64) * 3 + 5
    index = make_index(kind, DIM, metric)
    index.add(pks, x)
    index.remove(pks[:20])
    q = index.prepare(rng.normal(size=(1, DIM)).astype(np.float32))[0]
    allowed = np.sort(rng.choice(pks[20:], 50, replace=False))
    top = index.exact_top(q, allowed, 7)
    if metric == "l1":
        assert top is None  # FAISS has no in-place pass: the planner reconstructs
        return
    assert top is not None
    s = exact_scores(metric, q, index.reconstruct(allowed))
    order = np.argsort(-s, kind="stable")[:7]
    assert top[1].tolist() == allowed[order].tolist()
    np.testing.assert_allclose(top[0], s[order], rtol=1e-4, atol=1e-4)
    short = index.exact_top(q, allowed[:3], 7)  # fewer allowed than k: padded
    assert short is not None and short[1][3:].tolist() == [-1] * 4
    assert np.isneginf(short[0][3:]).all()


def test_pre_filter_uses_in_place_scoring_and_finds_the_exact_answer(col):
    q = vec(col, "r10")
    hits = col.search(embedding=q, k=5, where={"even": True}, strategy="pre", explain=True)
    assert hits.plan is not None and hits.plan.strategy == "pre"
    assert "vectors_from" not in hits.plan.knobs  # scored in the index, not read from SQLite
    x = {c.id: vec(col, c.id) for c in col.get(where={"even": True})}
    qn = q / np.linalg.norm(q)
    want = sorted(x, key=lambda i: -float(qn @ (x[i] / np.linalg.norm(x[i]))))[:5]
    assert [h.chunk.id for h in hits] == want


def test_repeated_filter_is_cached_until_a_write(col):
    q = vec(col, "r10")
    where = {"n": {"$lt": 10}}
    first = col.search(embedding=q, k=20, where=where, explain=True)
    assert first.plan is not None and first.plan.actual_matches == 10
    planner = col._vector_planner()
    cached = planner._filters[next(iter(planner._filters))]
    again = col.search(embedding=q, k=20, where=where)
    assert planner._filters[next(iter(planner._filters))] is cached
    assert [h.chunk.id for h in again] == [h.chunk.id for h in first]
    col.update(["r50"], [{"n": 1}])  # now matches: the cached matches must not be used
    after = col.search(embedding=q, k=20, where=where, explain=True)
    assert after.plan is not None and after.plan.actual_matches == 11
    assert "r50" in [h.chunk.id for h in after]


def test_post_filter_meeting_no_match_near_the_query_finishes_exactly_at_once(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, DIM)).astype(np.float32)
    c = Collection.create("anti", home=tmp_path, embedder=False, dim=DIM, index="hnsw",
                          m=4, ef_search=8)  # fmt: skip
    c.add(ids=[f"p{i}" for i in range(len(x))], embeddings=x,
          metadatas=[{"far": bool(v[0] > 0)} for v in x])  # fmt: skip
    q = np.zeros(DIM, dtype=np.float32)
    q[0] = -1.0  # the matches (x0 > 0) all lie on the other side
    hits = c.search(embedding=q, k=10, where={"far": True}, strategy="post", explain=True)
    assert hits.plan is not None
    assert hits.plan.strategy == "post+pre" and hits.plan.widenings == 0
    far = np.flatnonzero(x[:, 0] > 0)
    s = (x[far] @ q) / np.linalg.norm(x[far], axis=1)
    assert [h.chunk.id for h in hits] == [f"p{i}" for i in far[np.argsort(-s)[:10]]]
    c.close()
