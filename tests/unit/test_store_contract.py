"""The store contract: every index type and metric runs these tests."""

from __future__ import annotations

import numpy as np
import pytest

from ponder.store.collection import Collection
from ponder.store.indexes import INDEX_TYPES, METRICS, index_class

N, DIM = 300, 16
CASES = [
    (kind, metric)
    for kind in INDEX_TYPES
    for metric in METRICS
    if metric in index_class(kind).metrics
]


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


@pytest.fixture(params=CASES, ids=[f"{k}-{m}" for k, m in CASES])
def loaded(request, home):
    kind, metric = request.param
    rng = np.random.default_rng(7)
    xb = rng.normal(size=(N, DIM)).astype(np.float32)
    col = Collection.create(
        f"c-{kind}-{metric}", home=home, embedder=False, dim=DIM, metric=metric, index=kind
    )
    col.add(
        ids=[f"v{i}" for i in range(N)],
        embeddings=xb,
        metadatas=[{"group": i % 10, "even": i % 2 == 0} for i in range(N)],
    )
    yield col, xb, kind, metric
    col.close()


def _recall(got: list[str], want: list[int]) -> float:
    return len(set(got) & {f"v{i}" for i in want}) / len(want)


def test_matches_exact_search(loaded):
    col, xb, kind, metric = loaded
    rng = np.random.default_rng(1)
    recalls = []
    for q in rng.normal(size=(10, DIM)).astype(np.float32):
        got = [h.chunk.id for h in col.search(embedding=q, k=10)]
        recalls.append(_recall(got, brute_force(xb, q, metric, 10)))
    if index_class(kind).exact:
        assert min(recalls) == 1.0
    else:
        assert np.mean(recalls) >= 0.9


def test_filters_are_respected_exactly_and_k_rows_come_back(loaded):
    col, xb, _, metric = loaded
    q = xb[3] + 0.01
    hits = col.search(embedding=q, k=10, where={"group": 3})
    assert len(hits) == 10
    assert all(h.chunk.metadata["group"] == 3 for h in hits)
    ids = [i for i in range(N) if i % 10 == 3]
    want = [ids[j] for j in brute_force(xb[ids], q, metric, 10)]
    assert _recall([h.chunk.id for h in hits], want) == 1.0  # filtered search is exact here


def test_deletes_are_never_returned(loaded):
    col, xb, _, _ = loaded
    col.delete(ids=[f"v{i}" for i in range(0, N, 3)])
    for q in xb[:5]:
        hits = col.search(embedding=q, k=20)
        assert all(int(h.chunk.id[1:]) % 3 != 0 for h in hits)
        assert len(hits) == 20


def test_persistence_round_trip(loaded, home):
    col, xb, _, _ = loaded
    before = [h.chunk.id for h in col.search(embedding=xb[5], k=10)]
    col.close()
    again = Collection.open(col.name, home=home)
    assert [h.chunk.id for h in again.search(embedding=xb[5], k=10)] == before
    assert again.index_state.notices == []
    again.close()
