"""The query planner and the in-memory metadata columns it filters with."""

from __future__ import annotations

import numpy as np
import pytest

from ponder.errors import ConfigError
from ponder.store import metadata_columns
from ponder.store.collection import Collection
from ponder.store.metadata_columns import MetadataColumns

DIM = 16


pytestmark = pytest.mark.usefixtures("one_faiss_thread")


# ---------------------------------------------------------------------- metadata columns
VALUES = [
    0, 1, 2, -3, 2.5, 1.0, 2**60, True, False, None, "a", "b", "ab", "é", "", "1",
    [1, 2], ["a", "x"], [True], [], {"z": 1}, {"a": {"b": 2}},
]  # fmt: skip
FIELDS = ["f", "g", "a", "a.b"]


def random_meta(rng: np.random.Generator) -> dict:
    meta: dict = {}
    for f in ("f", "g", "a"):
        if rng.random() < 0.8:
            meta[f] = VALUES[rng.integers(len(VALUES))]
    return meta


def random_filter(rng: np.random.Generator, depth: int = 0) -> dict:
    r = rng.random()
    if depth < 2 and r < 0.25:
        op = ["$and", "$or"][rng.integers(2)]
        return {op: [random_filter(rng, depth + 1) for _ in range(rng.integers(1, 3))]}
    if depth < 2 and r < 0.3:
        return {"$not": random_filter(rng, depth + 1)}
    field = FIELDS[rng.integers(len(FIELDS))]
    scalars = [v for v in VALUES if not isinstance(v, (list, dict))]
    v = scalars[rng.integers(len(scalars))]
    op = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$contains"][
        rng.integers(10)
    ]
    if op in ("$gt", "$gte", "$lt", "$lte") and (v is None or isinstance(v, bool)):
        op = "$eq"
    if op in ("$in", "$nin"):
        return {field: {op: [scalars[i] for i in rng.integers(len(scalars), size=3)]}}
    if op == "$exists":
        return {field: {op: bool(rng.integers(2))}}
    return {field: {op: v}} if rng.random() < 0.8 else {field: v}


def test_columns_agree_with_sqlite_on_random_filters(home):
    rng = np.random.default_rng(0)
    col = Collection.create("m", home=home, embedder=False, dim=2)
    metas = [random_meta(rng) for _ in range(300)]
    col.add(ids=[f"r{i}" for i in range(300)], embeddings=np.ones((300, 2)), metadatas=metas)
    cols = MetadataColumns(col.catalog)
    for _ in range(400):
        where = random_filter(rng)
        want = col.catalog.pks_where(where)
        got = cols.matching_pks(where)
        assert got.tolist() == want.tolist(), where
        some = np.array([1, 5, 77, 299, 300, 10_000])
        assert cols.matches_pks(where, some).tolist() == np.isin(some, want).tolist(), where
    col.close()


def test_columns_follow_catalog_changes(home):
    col = Collection.create("m", home=home, embedder=False, dim=2)
    col.add(ids=["a", "b"], embeddings=[[1, 0], [0, 1]], metadatas=[{"t": 1}, {"t": 2}])
    cols = col._vector_planner().columns
    assert col.search(embedding=[1, 0], k=5, where={"t": 2})[0].chunk.id == "b"
    col.update(["a"], [{"t": 2}])
    assert {h.chunk.id for h in col.search(embedding=[1, 0], k=5, where={"t": 2})} == {"a", "b"}
    col.delete(ids=["b"])
    assert cols.matching_pks({"t": 2}).tolist() == [1]
    col.close()


# ---------------------------------------------------------------------- planning
@pytest.fixture
def big(home, monkeypatch):
    """3,000 clustered vectors in HNSW; the estimate samples 200 rows (as for large sets)."""
    monkeypatch.setattr(metadata_columns, "SAMPLE", 200)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(10, DIM))
    label = rng.integers(0, 10, 3000)
    x = (centres[label] + 0.3 * rng.normal(size=(3000, DIM))).astype(np.float32)
    col = Collection.create(
        "big", home=home, embedder=False, dim=DIM, index="hnsw", metric="l2", m=8
    )
    col.add(
        ids=[f"v{i}" for i in range(3000)],
        embeddings=x,
        metadatas=[{"pct": i % 1000 / 10, "cluster": int(c)} for i, c in enumerate(label)],
    )
    yield col, x, label, centres
    col.close()


def exact_filtered(x: np.ndarray, q: np.ndarray, ok: np.ndarray, k: int) -> set[str]:
    idx = np.flatnonzero(ok)
    d = np.linalg.norm(x[idx] - q, axis=1)
    return {f"v{i}" for i in idx[np.argsort(d)[:k]]}


def test_auto_picks_pre_for_rare_filters_and_an_index_plan_for_common_ones(big):
    col, x, _, _ = big
    rare = col.search(embedding=x[0], k=10, where={"pct": {"$lt": 0.5}}, explain=True)
    assert rare.plan.strategy == "pre" and rare.plan.actual_matches == 15
    assert rare.plan.estimate_method == "sample of 200 rows"
    assert len(rare) == 10
    common = col.search(embedding=x[0], k=10, where={"pct": {"$lt": 80}}, explain=True)
    costs = common.plan.costs
    assert set(costs) == {"pre", "post"} and "selectivity" in common.plan.reason  # hnsw
    assert common.plan.strategy == min(costs, key=costs.get) != "pre"
    ok = np.arange(3000) % 1000 / 10 < 80
    assert len({h.chunk.id for h in common} & exact_filtered(x, x[0], ok, 10)) >= 9


def test_anti_correlated_filter_widens_and_still_returns_k_rows(big):
    col, x, label, centres = big
    q = centres[0]
    far = int(np.argmax(np.linalg.norm(centres - q, axis=1)))
    where = {"cluster": far}
    ok = label == far
    for strategy in ("post", "in"):
        hits = col.search(embedding=q, k=10, where=where, strategy=strategy, explain=True)
        assert len(hits) == 10 and all(h.chunk.metadata["cluster"] == far for h in hits)
        got = {h.chunk.id for h in hits}
        assert len(got & exact_filtered(x, q, ok, 10)) >= 9
    post = col.search(embedding=q, k=10, where=where, strategy="post", explain=True).plan
    assert post.widenings >= 1 or post.strategy == "post+pre"


def test_low_effort_in_search_widens_until_k_rows(home):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1500, DIM)).astype(np.float32)
    col = Collection.create(
        "w", home=home, embedder=False, dim=DIM, index="hnsw", metric="l2", ef_search=1
    )
    col.add(ids=[f"v{i}" for i in range(1500)], embeddings=x,
            metadatas=[{"k": i % 50} for i in range(1500)])  # fmt: skip
    hits = col.search(embedding=x[0], k=20, where={"k": 7}, strategy="in", explain=True)
    assert len(hits) == 20 and all(h.chunk.metadata["k"] == 7 for h in hits)
    assert hits.plan.candidates_scanned > 0
    col.close()


def test_unfiltered_plan_and_bad_arguments(big):
    col, x, _, _ = big
    hits = col.search(embedding=x[1], k=3, explain=True)
    assert hits.plan.strategy == "ann" and not hits.plan.filtered
    assert hits.plan.knobs["efSearch"] >= 3 and hits.plan.returned == 3
    assert "fetch rows" in hits.plan.timings_ms
    with pytest.raises(ConfigError, match="unknown strategy 'sideways'"):
        col.search(embedding=x[1], strategy="sideways")
    for k in (0, -1, True, 2.5):
        with pytest.raises(ConfigError, match="k must be a positive integer"):
            col.search(embedding=x[1], k=k)
    assert len(col.search(embedding=x[1], k=5000)) == 3000  # more than exist: all of them


def test_pq_pre_filter_reads_exact_vectors_from_the_catalog(home):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(400, DIM)).astype(np.float32)
    col = Collection.create("p", home=home, embedder=False, dim=DIM, index="pq", metric="l2")
    col.add(ids=[f"v{i}" for i in range(400)], embeddings=x,
            metadatas=[{"g": i % 40} for i in range(400)])  # fmt: skip
    hits = col.search(embedding=x[3], k=5, where={"g": 3}, strategy="pre", explain=True)
    assert hits[0].chunk.id == "v3" and hits[0].distance == pytest.approx(0, abs=1e-4)
    assert hits.plan.knobs.get("vectors_from") == "catalog"
    col.close()


def test_auto_uses_in_search_only_where_it_is_exact(home):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, DIM)).astype(np.float32)
    metas = [{"p": i % 100} for i in range(800)]
    for kind in ("flat", "ivf"):
        col = Collection.create(f"a-{kind}", home=home, embedder=False, dim=DIM, index=kind)
        col.add(ids=[f"v{i}" for i in range(800)], embeddings=x, metadatas=metas)
        plan = col.search(embedding=x[0], k=5, where={"p": {"$lt": 90}}, explain=True).plan
        assert ("in" in plan.costs) == (kind == "flat")
        assert plan.strategy == min(plan.costs, key=plan.costs.get)
        col.close()
