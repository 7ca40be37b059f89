"""ponder.rag.retrieve: dense, BM25 and hybrid retrieval, fusion and filters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ponder.embed.base import Embedder
from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError, InputError
from ponder.rag.retrieve import RetrievalConfig, dense_scores, fuse_scores, retrieve
from ponder.store.collection import Collection

# Topic axes of a controllable embedder: a text's vector counts its topic words, so dense
# similarity follows topics while BM25 follows exact words.
_TOPICS = {
    "cat": 0, "kitten": 0, "feline": 0,
    "dog": 1, "puppy": 1,
    "market": 2, "stocks": 2,
    "rain": 3, "weather": 3,
}  # fmt: skip


class TopicEmbedder(Embedder):
    model_id = "topic-5"
    dim = 5
    normalized = True

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().replace(".", " ").replace("?", " ").split():
                out[i, _TOPICS.get(w, 4)] += 1.0 if w in _TOPICS else 0.2
            out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
        return out


DOCS = {
    "k1": ("a kitten sleeps all day", {"kind": "pet", "year": 2020}),
    "k2": ("the feline purrs", {"kind": "pet", "year": 2023}),
    "c1": ("zz9 cat food notice", {"kind": "notice", "year": 2023}),
    "d1": ("the puppy barks at the dog", {"kind": "pet", "year": 2021}),
    "m1": ("stocks fell as the market closed", {"kind": "finance", "year": 2022}),
    "w1": ("rain and weather today", {"kind": "news", "year": 2024}),
}


@pytest.fixture
def col(home: Path) -> Collection:
    c = Collection.create("r", home=home, embedder=TopicEmbedder())
    c.add(
        ids=list(DOCS),
        texts=[t for t, _ in DOCS.values()],
        metadatas=[m for _, m in DOCS.values()],
    )
    return c


# ---------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mode": "sparse"}, "unknown retrieval mode 'sparse'"),
        ({"fusion": "borda"}, "unknown fusion 'borda'"),
        ({"k": 0}, "k must be an integer >= 1"),
        ({"k": True}, "k must be an integer"),
        ({"candidates": 0}, "candidates must be an integer >= 1"),
        ({"rrf_k": -1}, "rrf_k must be an integer >= 0"),
        ({"weights": (1.0, -0.5)}, "weights must be two non-negative numbers"),
        ({"weights": (0, 0)}, "not both 0"),
        ({"weights": (1.0,)}, "weights must be two"),
        ({"min_score": float("nan")}, "min_score must be a finite number"),
    ],
)
def test_config_is_validated(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(")):
        RetrievalConfig(**kwargs)


def test_config_defaults_and_replace() -> None:
    cfg = RetrievalConfig()
    assert (cfg.mode, cfg.k, cfg.fusion, cfg.weights, cfg.candidates) == (
        "hybrid",
        5,
        "zscore",
        (0.5, 0.5),
        100,
    )
    assert cfg.replace(k=3).k == 3 and cfg.k == 5
    with pytest.raises(ConfigError, match="unknown retrieval option"):
        cfg.replace(top_k=3)
    assert RetrievalConfig(weights=[1, 2]).weights == (1.0, 2.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- modes
def test_each_mode_ranks_1_to_k_and_says_how_found(col: Collection) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        hits = retrieve(col, "the cat kitten", mode=mode, k=2)
        assert [h.rank for h in hits] == [1, 2]
        assert {h.found_by for h in hits} == {mode}
        assert all(h.score >= hits[-1].score for h in hits)


def test_dense_follows_meaning_bm25_follows_words(col: Collection) -> None:
    dense = [h.chunk.id for h in retrieve(col, "cat", mode="dense", k=3)]
    assert set(dense) == {"k1", "k2", "c1"}  # all cat-topic documents
    bm25 = [h.chunk.id for h in retrieve(col, "cat", mode="bm25", k=3)]
    assert bm25 == ["c1"]  # the only one with the word "cat"


def test_hybrid_combines_both(col: Collection) -> None:
    # "zz9" is a word only BM25 can see; the dense side sees the cat topic.
    dense = [h.chunk.id for h in retrieve(col, "zz9 kitten", mode="dense", k=3)]
    assert dense == ["k2", "c1", "k1"]
    assert [h.chunk.id for h in retrieve(col, "zz9 kitten", mode="bm25")] == ["c1", "k1"]
    ids = [h.chunk.id for h in retrieve(col, "zz9 kitten", k=3)]
    assert ids[0] == "c1"  # second by meaning, first by words: first when fused
    assert set(ids) == {"c1", "k1", "k2"}


def test_hybrid_score_is_the_fused_score(col: Collection) -> None:
    cfg = RetrievalConfig(k=4, candidates=10, fusion="rrf", weights=(1.0, 2.0), rrf_k=10)
    dense = col.search("zz9 kitten", k=10)
    bm25 = col.keyword_search("zz9 kitten", k=10)
    expected = fuse_scores(
        [[(h.chunk.id, h.score) for h in dense], [(h.chunk.id, h.score) for h in bm25]],
        [1.0, 2.0],
        "rrf",
        10,
    )[:4]
    hits = retrieve(col, "zz9 kitten", cfg)
    assert [h.chunk.id for h in hits] == [cid for cid, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected])


def test_weights_zero_out_a_retriever(col: Collection) -> None:
    for fusion in ("zscore", "minmax", "rrf"):
        dense_only = retrieve(col, "cat zz9", k=3, fusion=fusion, weights=(1.0, 0.0))
        assert [h.chunk.id for h in dense_only] == [
            h.chunk.id for h in retrieve(col, "cat zz9", mode="dense", k=3)
        ]
        bm25_top = retrieve(col, "cat zz9", k=1, fusion=fusion, weights=(0.0, 1.0))
        assert bm25_top[0].chunk.id == "c1"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_filters_apply_to_every_mode(col: Collection, mode: str) -> None:
    where = {"kind": "pet", "year": {"$gte": 2021}}
    hits = retrieve(col, "cat kitten puppy zz9", mode=mode, k=6, where=where)
    assert hits, mode
    assert {h.chunk.id for h in hits} <= {"k2", "d1"}
    assert retrieve(col, "cat", mode=mode, where={"kind": "nothing"}) == []


def test_where_as_json_string(col: Collection) -> None:
    hits = retrieve(col, "stocks", mode="bm25", where='{"kind": "finance"}')
    assert [h.chunk.id for h in hits] == ["m1"]


def test_query_without_words_still_gets_dense_hits(col: Collection) -> None:
    assert retrieve(col, "???", mode="bm25") == []
    hits = retrieve(col, "???", k=2)
    assert len(hits) == 2 and all(h.found_by == "hybrid" for h in hits)


def test_empty_query_is_refused(col: Collection) -> None:
    with pytest.raises(InputError, match="query is empty"):
        retrieve(col, "   ")


def test_config_object_and_overrides(col: Collection) -> None:
    cfg = RetrievalConfig(mode="bm25", k=1)
    assert len(retrieve(col, "the", cfg)) == 1
    assert len(retrieve(col, "the", cfg, k=2)) == 2
    assert cfg.k == 1


# ---------------------------------------------------------------------------------- floor
def test_min_score_dense_and_bm25(col: Collection) -> None:
    dense = retrieve(col, "kitten", mode="dense", k=6)
    floor = (dense[1].score + dense[2].score) / 2
    kept = retrieve(col, "kitten", mode="dense", k=6, min_score=floor)
    assert [h.chunk.id for h in kept] == [h.chunk.id for h in dense[:2]]
    assert retrieve(col, "kitten", mode="dense", min_score=1.01) == []
    bm25 = retrieve(col, "the dog", mode="bm25", k=6)
    high = retrieve(col, "the dog", mode="bm25", k=6, min_score=bm25[0].score)
    assert [h.chunk.id for h in high] == [bm25[0].chunk.id]


def test_min_score_in_hybrid_uses_dense_similarity(col: Collection) -> None:
    # "zz9" finds c1 by keyword; its topic (cat) is unrelated to "weather": low cosine.
    hits = retrieve(col, "zz9 weather", k=6)
    assert "c1" in [h.chunk.id for h in hits]
    floored = retrieve(col, "zz9 weather", k=6, min_score=0.5)
    assert [h.chunk.id for h in floored] == ["w1"]
    assert [h.rank for h in floored] == [1]
    assert retrieve(col, "zz9 weather", min_score=1.01) == []


def test_dense_scores_match_search(col: Collection) -> None:
    q = col.embedder.embed_query("kitten")
    hits = col.search(embedding=q, k=6)
    got = dense_scores(col, q, [h.chunk.id for h in hits] + ["unknown"])
    assert got == pytest.approx({h.chunk.id: h.score for h in hits})


@pytest.mark.parametrize("metric", ["l2", "l1", "dot"])
def test_dense_scores_other_metrics(home: Path, metric: str) -> None:
    c = Collection.create(f"m-{metric}", home=home, embedder=HashEmbedder(dim=16), metric=metric)
    c.add(ids=["a", "b", "c"], texts=["red apple", "green apple", "blue sky"])
    q = c.embedder.embed_query("apple")
    hits = c.search(embedding=q, k=3)
    assert dense_scores(c, q, [h.chunk.id for h in hits]) == pytest.approx(
        {h.chunk.id: h.score for h in hits}, abs=1e-5
    )


# ---------------------------------------------------------------------------------- fusion
def test_rrf_by_hand() -> None:
    dense = [("a", 0.9), ("b", 0.8), ("c", 0.1)]
    bm25 = [("c", 12.0), ("a", 3.0)]
    got = dict(fuse_scores([dense, bm25], [2.0, 1.0], "rrf", rrf_k=1))
    assert got == pytest.approx({"a": 2 / 2 + 1 / 3, "b": 2 / 3, "c": 2 / 4 + 1 / 2})


def test_minmax_by_hand() -> None:
    dense = [("a", 4.0), ("b", 3.0), ("c", 2.0)]
    bm25 = [("c", 10.0), ("d", 6.0), ("a", 2.0)]
    got = fuse_scores([dense, bm25], [0.5, 0.5], "minmax")
    # dense: a 1, b .5, c 0, d absent 0; bm25: c 1, d .5, a 0, b absent 0
    assert dict(got) == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.25})
    assert [cid for cid, _ in got] == ["a", "c", "b", "d"]  # ties: best rank, then id


def test_zscore_by_hand() -> None:
    dense = [("a", 3.0), ("b", 1.0)]  # mean 2, sd 1 -> a +1, b -1
    bm25 = [("b", 5.0), ("c", 4.0), ("d", 0.0)]  # mean 3, sd sqrt(14/3)
    sd = math.sqrt(14 / 3)
    zb, zc, zd = 2 / sd, 1 / sd, -3 / sd
    got = dict(fuse_scores([dense, bm25], [0.25, 0.75], "zscore"))
    assert got == pytest.approx(
        {
            "a": 0.25 * 1 + 0.75 * zd,  # absent from BM25: its lowest z
            "b": 0.25 * -1 + 0.75 * zb,
            "c": 0.25 * -1 + 0.75 * zc,  # absent from dense: its lowest z
            "d": 0.25 * -1 + 0.75 * zd,
        }
    )


def test_fusion_edge_cases() -> None:
    assert fuse_scores([[], []], [1, 1], "zscore") == []
    one = fuse_scores([[("a", 1.0)], []], [1, 1], "zscore")
    assert one == [("a", 0.0)]  # a single score has no spread
    same = fuse_scores([[("a", 2.0), ("b", 2.0)], []], [1, 1], "minmax")
    assert [cid for cid, _ in same] == ["a", "b"]


def test_collection_without_embedder_needs_bm25(home: Path) -> None:
    c = Collection.create("noemb", home=home, embedder=False, dim=2)
    c.add(ids=["a", "b"], texts=["red apple", "blue sky"], embeddings=[[1, 0], [0, 1]])
    assert [h.chunk.id for h in retrieve(c, "apple", mode="bm25")] == ["a"]
    with pytest.raises(ConfigError, match="use mode='bm25'"):
        retrieve(c, "apple")
