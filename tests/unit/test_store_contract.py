"""The store contract: every index type and metric runs these tests.

Exact indexes must return exactly what brute force returns; approximate ones must reach the
configured recall target on a fixed seed. For every type: filters are respected exactly and
``k`` rows come back whenever ``k`` rows match (whatever the strategy), deletes are never
returned, and an index survives a close/open round trip.
"""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest

from ponder.store.collection import Collection
from ponder.store.indexes import INDEX_TYPES, METRICS, index_class

N, DIM = 600, 16  # enough for ivf (auto nlist 15 needs 585 vectors) and pq (256) to train
RECALL_TARGET = 0.9  # approximate types, mean recall@10 against exact on this seed
CASES = [
    (kind, metric)
    for kind in INDEX_TYPES
    for metric in METRICS
    if metric in index_class(kind).metrics
]


pytestmark = pytest.mark.usefixtures("one_faiss_thread")


def clustered(n: int, seed: int) -> np.ndarray:
    """Clustered data (like embeddings, unlike uniform noise) so approximate indexes can work."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, DIM))
    x = centres[rng.integers(0, len(centres), n)] + 0.35 * rng.normal(size=(n, DIM))
    return x.astype(np.float32)


def brute_force(xb: np.ndarray, q: np.ndarray, metric: str, k: int) -> list[int]:
    if metric == "cosine":
        xb = xb / np.linalg.norm(xb, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
        scores = xb @ q
    elif metric == "dot":
        scores = xb @ q
    elif metric == "l2":
        scores = -np.linalg.norm(xb - q, axis=1)
    else:
        scores = -np.abs(xb - q).sum(axis=1)
    return np.argsort(-scores, kind="stable")[:k].tolist()


def _build(root, kind: str, metric: str) -> str:
    """A collection of N clustered vectors, trained and saved; returns its name."""
    name = f"c-{kind}-{metric}"
    col = Collection.create(name, home=root, embedder=False, dim=DIM, metric=metric, index=kind)
    col.add(
        ids=[f"v{i}" for i in range(N)],
        embeddings=clustered(N, 7),
        metadatas=[{"group": i % 10, "even": i % 2 == 0, "pct": i % 100} for i in range(N)],
    )
    col.search(embedding=clustered(1, 3)[0], k=1)  # types that need it train here
    col.close()
    return name


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{m}" for k, m in CASES])
def template(request, tmp_path_factory):
    """Built once per (type, metric): read-only tests share it, others copy it."""
    kind, metric = request.param
    root = tmp_path_factory.mktemp(f"contract-{kind}-{metric}")
    name = _build(root, kind, metric)
    col = Collection.open(name, home=root)
    yield root, name, kind, metric, col
    col.close()


@pytest.fixture
def loaded(template):
    """The shared collection, read-only (tests must not write through it)."""
    _, _, kind, metric, col = template
    return col, clustered(N, 7), kind, metric


@pytest.fixture
def writable(template, home):
    """A private copy of the shared collection, to write to."""
    root, name, kind, metric, _ = template
    shutil.copytree(root / "collections" / name, home / "collections" / name)
    col = Collection.open(name, home=home)
    yield col, clustered(N, 7), kind, metric
    col.close()


def _recall(got: list[str], want: list[int]) -> float:
    return len(set(got) & {f"v{i}" for i in want}) / max(len(want), 1)


def _queries(n: int = 10) -> np.ndarray:
    return clustered(n, 1)


def test_trained_types_are_really_trained(loaded):
    col, _, kind, _ = loaded
    index = col.index_state.get()
    assert index.fallback_reason is None, f"{kind} fell back to exact search: contract too small"


def test_matches_exact_search(loaded):
    col, xb, kind, metric = loaded
    recalls = []
    for q in _queries():
        got = [h.chunk.id for h in col.search(embedding=q, k=10)]
        assert len(got) == 10
        recalls.append(_recall(got, brute_force(xb, q, metric, 10)))
    if index_class(kind).exact:
        assert min(recalls) == 1.0
    else:
        assert np.mean(recalls) >= RECALL_TARGET


def test_filters_are_respected_exactly_and_k_rows_come_back(loaded):
    col, xb, _, metric = loaded
    q = xb[3] + 0.01
    hits = col.search(embedding=q, k=10, where={"group": 3})
    assert len(hits) == 10
    assert all(h.chunk.metadata["group"] == 3 for h in hits)
    ids = [i for i in range(N) if i % 10 == 3]
    want = [ids[j] for j in brute_force(xb[ids], q, metric, 10)]
    assert _recall([h.chunk.id for h in hits], want) == 1.0  # small filter: planned exactly


@pytest.mark.parametrize("strategy", ["auto", "pre", "in", "post"])
@pytest.mark.parametrize("cut", [1, 5, 30, 100])  # selectivity: pct < cut, 1% to 100%
def test_every_strategy_keeps_k_rows_filters_and_recall(loaded, strategy, cut):
    col, xb, kind, metric = loaded
    ids = [i for i in range(N) if i % 100 < cut]
    recalls = []
    for q in _queries(4):
        hits = col.search(embedding=q, k=10, where={"pct": {"$lt": cut}}, strategy=strategy)
        assert len(hits) == min(10, len(ids))
        assert all(h.chunk.metadata["pct"] < cut for h in hits)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        want = [ids[j] for j in brute_force(xb[ids], q, metric, 10)]
        recalls.append(_recall([h.chunk.id for h in hits], want))
    if index_class(kind).exact or strategy == "pre":
        assert min(recalls) == 1.0
    else:
        assert np.mean(recalls) >= RECALL_TARGET


def test_filter_matching_nothing_or_absent_field(loaded):
    col, xb, _, _ = loaded
    assert col.search(embedding=xb[0], k=5, where={"group": 99}) == []
    hits = col.search(embedding=xb[0], k=5, where={"no_such_field": 1}, explain=True)
    assert hits == [] and hits.plan is not None
    assert any("absent from every chunk" in n for n in hits.plan.notices)


def test_deletes_are_never_returned(writable):
    col, xb, _, _ = writable
    col.delete(ids=[f"v{i}" for i in range(0, N, 3)])
    for q in xb[:5]:
        hits = col.search(embedding=q, k=20)
        assert all(int(h.chunk.id[1:]) % 3 != 0 for h in hits)
        assert len(hits) == 20
        hits = col.search(embedding=q, k=10, where={"group": {"$in": [1, 2]}}, strategy="post")
        assert len(hits) == 10 and all(int(h.chunk.id[1:]) % 3 != 0 for h in hits)


def test_a_few_deletes_then_round_trip_keeps_them_deleted(writable, home):
    col, xb, _, _ = writable  # a few deletes: hnsw keeps tombstones (below its compaction point)
    gone = {f"v{i}" for i in range(0, 40)}
    col.delete(ids=sorted(gone))
    col.close()
    again = Collection.open(col.name, home=home)
    assert again.index_state.notices == []
    assert len(again.index_state.get()) == N - len(gone)
    for q in xb[:10]:
        hits = again.search(embedding=q, k=10)
        assert len(hits) == 10 and not gone & {h.chunk.id for h in hits}
    again.close()


def test_updates_replace_vectors(writable):
    col, xb, _, _ = writable
    far = xb[5] * -3.0
    col.add(ids=["v5"], embeddings=far[None, :], metadatas=[{"group": 5}])
    assert col.search(embedding=far, k=1)[0].chunk.id == "v5"
    assert "v5" not in [h.chunk.id for h in col.search(embedding=xb[5], k=3)]


def test_persistence_round_trip(writable, home):
    col, xb, _, _ = writable
    before = [h.chunk.id for h in col.search(embedding=xb[5], k=10)]
    col.close()
    again = Collection.open(col.name, home=home)
    assert [h.chunk.id for h in again.search(embedding=xb[5], k=10)] == before
    assert again.index_state.notices == []
    again.close()


def test_explain_reports_the_plan(loaded):
    col, xb, _, _ = loaded
    hits = col.search(embedding=xb[0], k=5, where={"pct": {"$lt": 50}}, explain=True)
    plan = hits.plan
    assert plan is not None and plan.filtered and plan.returned == 5
    assert plan.strategy in ("pre", "in", "post") and plan.reason
    assert plan.estimated_matches == plan.actual_matches == N // 2 or plan.strategy == "post"
    assert {"estimate", "search", "total"} <= set(plan.timings_ms)
    assert "strategy" in str(plan) and plan.to_dict()["k"] == 5
    assert col.search(embedding=xb[0], k=5).plan is None  # no explain: no plan kept
