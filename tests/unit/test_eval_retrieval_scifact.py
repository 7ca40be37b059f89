"""BEIR SciFact from ``../shared/datasets`` (skipped without it): loader counts and BM25.

BM25 needs no model, so the corpus goes into a collection with the fast ``HashEmbedder``;
the FTS5 BM25 figure must match the one ``bench/retrieval.py`` reports for the real setup.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import dataset

from ponder.embed.fake import HashEmbedder
from ponder.evaluate.beir import ingest_corpus, load_beir
from ponder.evaluate.retrieval import evaluate_beir
from ponder.rag.retrieve import RetrievalConfig
from ponder.store.collection import Collection


def test_scifact_counts() -> None:
    folder = dataset("beir_scifact")
    test, train = load_beir(folder, "test"), load_beir(folder, "train")
    assert len(test.corpus) == 5183
    assert (len(test.queries), len(train.queries)) == (300, 809)
    assert sum(len(r) for r in test.qrels.values()) == 339
    assert not set(test.queries) & set(train.queries)


def test_scifact_bm25_test_split(home: Path) -> None:
    data = load_beir(dataset("beir_scifact"), "test")
    col = Collection.create("beir-scifact", home=home, embedder=HashEmbedder(dim=8))
    assert ingest_corpus(col, data.corpus, batch_size=2000) == 5183
    res = evaluate_beir(col, data, RetrievalConfig(mode="bm25"))
    # FTS5 (porter stemming, k1=1.2, b=0.75) over title + text; published BM25: 0.665-0.679
    assert res.metrics["ndcg@10"] == pytest.approx(0.6874, abs=0.003)
    assert res.metrics["recall@100"] == pytest.approx(0.9253, abs=0.005)
