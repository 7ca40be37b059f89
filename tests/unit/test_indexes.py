"""Index types on their own and through a collection: every type and metric through the
``VectorIndexContract`` users get from ``ponder.testing.contracts``, then parameters, metric
pairs, training fallback, HNSW tombstones and compaction, files from another version,
build_index."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from ponder.errors import ConfigError, VectorIndexError
from ponder.store.collection import Collection
from ponder.store.indexes import INDEX_TYPES, HNSWIndex, IVFIndex, PQIndex, VectorIndex, make_index
from ponder.testing.contracts import VectorIndexContract

DIM = 16


pytestmark = pytest.mark.usefixtures("one_faiss_thread")


class TestEveryIndexType(VectorIndexContract):
    @pytest.fixture(
        params=[(kind, m) for kind, cls in INDEX_TYPES.items() for m in cls.metrics],
        ids=lambda p: f"{p[0]}-{p[1]}",
    )
    def index(self, request: pytest.FixtureRequest) -> VectorIndex:
        kind, metric = request.param
        return make_index(kind, DIM, metric)


def data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, DIM))
    return (centres[rng.integers(0, 8, n)] + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


def test_unknown_type_parameter_and_bad_values_are_clear_errors():
    with pytest.raises(ConfigError, match=r"unknown index type 'annoy'.*flat, hnsw, ivf, pq"):
        make_index("annoy", DIM)
    with pytest.raises(ConfigError, match=r"no parameter 'efSearch'.*ef_search"):
        make_index("hnsw", DIM, efSearch=10)
    with pytest.raises(ConfigError, match="no parameter 'nlist'"):
        make_index("flat", DIM, nlist=4)
    with pytest.raises(ConfigError, match="out of range"):
        make_index("hnsw", DIM, m=1)
    with pytest.raises(ConfigError, match="must be an integer"):
        make_index("ivf", DIM, nlist=2.5)
    with pytest.raises(ConfigError, match="must divide the dimension 16"):
        make_index("pq", DIM, m=5)


def test_impossible_metric_pair_names_the_pairs_that_work():
    with pytest.raises(ConfigError) as e:
        make_index("pq", DIM, "l1")
    msg = str(e.value)
    assert "'pq' does not support metric 'l1'" in msg
    assert "hnsw: cosine, dot, l2, l1" in msg and "ivf-pq: cosine, dot, l2" in msg
    with pytest.raises(ConfigError, match="unknown metric 'manhattan'"):
        make_index("flat", DIM, "manhattan")


def test_collection_refuses_bad_index_settings_before_writing(home):
    with pytest.raises(ConfigError, match="does not support metric"):
        Collection.create("x", home=home, embedder=False, dim=DIM, index="ivf-pq", metric="l1")
    with pytest.raises(ConfigError, match="no parameter"):
        Collection.create("x", home=home, embedder=False, dim=DIM, index="hnsw", bogus=1)
    assert Collection.list(home) == []


@pytest.mark.parametrize("kind", ["ivf", "pq", "ivf-pq"])
def test_too_few_vectors_fall_back_to_exact_then_train_lazily(home, kind, caplog):
    col = Collection.create("t", home=home, embedder=False, dim=DIM, index=kind, metric="l2")
    x = data(1000)
    col.add(ids=[f"a{i}" for i in range(100)], embeddings=x[:100])
    with caplog.at_level(logging.WARNING, logger="ponder"):
        hits = col.search(embedding=x[0], k=5, explain=True)
    assert hits[0].chunk.id == "a0" and len(hits) == 5
    assert any("exact search until then" in n for n in hits.plan.notices)
    assert hits.plan.strategy == "exact"
    assert any("needs at least" in r.message for r in caplog.records)
    col.add(ids=[f"b{i}" for i in range(900)], embeddings=x[100:])
    hits = col.search(embedding=x[500], k=5, explain=True)
    assert hits.plan.notices == [] and hits.plan.strategy == "ann"
    assert hits[0].chunk.id == "b400"
    assert col.index_state.get().fallback_reason is None
    col.close()  # trained in memory: saved on close, loaded trained
    again = Collection.open("t", home=home)
    assert again.index_state.get().fallback_reason is None
    assert again.index_state.notices == []
    again.close()


def test_build_index_switches_type_merges_params_and_reports(home):
    col = Collection.create("b", home=home, embedder=False, dim=DIM)
    x = data(800)
    col.add(ids=[f"v{i}" for i in range(800)], embeddings=x)
    out = col.build_index("ivf", nlist=10, nprobe=3)
    assert out["index"] == "ivf" and out["vectors"] == 800 and out["notice"] is None
    assert out["settings"]["nlist"] == 10 and out["settings"]["nprobe"] == 3
    assert col.build_index(nprobe=10)["params"] == {"nlist": 10, "nprobe": 10}
    out = col.build_index("hnsw", metric="l2", m=8)
    assert out["params"] == {"m": 8} and col.metric == "l2"
    assert col.search(embedding=x[3], k=1)[0].distance == pytest.approx(0.0, abs=1e-4)
    col.close()
    again = Collection.open("b", home=home)
    assert again.info()["index"] == "hnsw" and again.info()["index_params"] == {"m": 8}
    assert again.index_state.notices == []
    with pytest.raises(ConfigError, match="does not support metric"):
        again.build_index("pq", metric="l1")
    assert again.info()["index"] == "hnsw"  # a refused build changes nothing
    out = again.build_index("pq", nbits=8)
    assert out["notice"] is None and out["memory_bytes"] < 800 * DIM * 4
    again.close()


def test_hnsw_tombstones_are_skipped_saved_and_compacted(tmp_path):
    x = data(400)
    idx = HNSWIndex(DIM, "l2", m=8, compact_at=0.5)
    idx.add(np.arange(400), x)
    idx.remove(np.arange(0, 100))
    assert idx.tombstones() == 100 and len(idx) == 300
    _, pks = idx.search(x[:20], k=10)
    assert (pks >= 100).all()
    idx.save(tmp_path / "h.faiss")
    back = HNSWIndex.load(tmp_path / "h.faiss", DIM, "l2", m=8, compact_at=0.5)
    assert back.tombstones() == 100 and np.array_equal(back.pks(), np.arange(100, 400))
    back.remove(np.arange(100, 250))  # 250 of 400 > 50%: rebuilt from the live vectors
    assert back.tombstones() == 0 and len(back) == 150 and back.index.ntotal == 150
    _, pks = back.search(x[300:301], k=1)
    assert pks[0, 0] == 300


def test_index_file_from_another_version_or_type_is_rebuilt_with_a_notice(home):
    col = Collection.create("v", home=home, embedder=False, dim=DIM, index="hnsw")
    x = data(50)
    col.add(ids=[f"v{i}" for i in range(50)], embeddings=x)
    col.close()
    meta = home / "collections" / "v" / "index.json"
    m = json.loads(meta.read_text())
    m["kind_version"] = 99
    meta.write_text(json.dumps(m))
    again = Collection.open("v", home=home)
    assert again.search(embedding=x[7], k=1)[0].chunk.id == "v7"
    assert any("file layout 99" in n and "rebuilt" in n for n in again.index_state.notices)
    again.close()
    flat = make_index("flat", DIM)  # a valid FAISS file of the wrong type
    flat.add(np.arange(50), x)
    flat.save(home / "collections" / "v" / "index.faiss")
    again = Collection.open("v", home=home)
    assert again.search(embedding=x[9], k=1)[0].chunk.id == "v9"
    assert any("not HNSW" in n for n in again.index_state.notices)
    again.close()


def test_loading_another_types_file_raises_vector_index_error(tmp_path):
    path = tmp_path / "x.faiss"
    ivf = IVFIndex(DIM, "l2", nlist=2)
    ivf.add(np.arange(100), data(100))
    ivf.maybe_train()
    ivf.save(path)
    with pytest.raises(VectorIndexError, match=r"not pq|IndexIVFFlat"):
        PQIndex.load(path, DIM, "l2")


def test_pq_rerank_uses_exact_vectors_and_improves_recall():
    x = data(2000, seed=3)
    q = data(30, seed=4)
    exact = make_index("flat", DIM, "l2")
    exact.add(np.arange(2000), x)
    _, truth = exact.search(q, 10)
    recalls = {}
    for rerank in (0, 8):
        idx = make_index("pq", DIM, "l2", m=4, rerank=rerank)
        idx.vector_source = lambda pks: x[pks]
        idx.add(np.arange(2000), x)
        assert idx.maybe_train()
        _, got = idx.search(q, 10)
        hits = [len(set(a) & set(b)) / 10 for a, b in zip(got, truth, strict=True)]
        recalls[rerank] = np.mean(hits)
    assert recalls[8] > recalls[0] and recalls[8] >= 0.95


def test_ivf_removes_and_readds(tmp_path):
    x = data(600)
    idx = IVFIndex(DIM, "cosine")
    idx.add(np.arange(600), x)
    assert idx.maybe_train() and idx.nlist >= 8
    idx.remove(np.array([5, 6, 7, 10_000]))  # an unknown pk is ignored
    assert len(idx) == 597 and 5 not in idx.pks()
    idx.add(np.array([5]), x[5:6])
    assert idx.search(x[5:6], k=1)[1][0, 0] == 5
    assert np.allclose(idx.reconstruct(np.array([9])), x[9] / np.linalg.norm(x[9]), atol=1e-6)
