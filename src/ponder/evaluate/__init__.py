"""Evaluation: retrieval metrics and BEIR runs (``ponder eval retrieval``).

- ``ponder.evaluate.retrieval``: nDCG@k, recall@k, MRR@k (pytrec_eval conventions) and
  ``evaluate_beir``, which runs a data set's queries through ``ponder.rag.retrieve``;
- ``ponder.evaluate.beir``: read BEIR folders and load their corpus into a collection.

>>> from ponder.evaluate import evaluate_run
>>> evaluate_run({"q": ["b", "a"]}, {"q": {"a": 1}})["mrr@10"]
0.5
"""

from __future__ import annotations

from ponder.evaluate.beir import BeirData, BeirDoc, ingest_corpus, load_beir, load_qrels
from ponder.evaluate.retrieval import (
    RetrievalResult,
    evaluate_beir,
    evaluate_run,
    mrr_at,
    ndcg_at,
    per_query_metrics,
    recall_at,
)

__all__ = [
    "BeirData",
    "BeirDoc",
    "RetrievalResult",
    "evaluate_beir",
    "evaluate_run",
    "ingest_corpus",
    "load_beir",
    "load_qrels",
    "mrr_at",
    "ndcg_at",
    "per_query_metrics",
    "recall_at",
]
