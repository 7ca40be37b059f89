"""Retrieval metrics (nDCG@k, recall@k, MRR@k) and a BEIR runner over a Ponder collection.

The metrics follow the conventions of ``pytrec_eval``/``trec_eval`` as BEIR reports them:

- relevance is graded: a document's gain is its qrels grade (grades <= 0 count as not relevant);
- nDCG@k = DCG@k / IDCG@k with ``DCG = sum(gain_i / log2(i + 1))`` over ranks ``i = 1..k``, and
  the ideal DCG computed from the query's qrels (not from what was retrieved);
- recall@k = relevant documents in the top k / all relevant documents of the query;
- MRR@k = 1 / rank of the first relevant document in the top k (0 if none);
- means are taken over the queries that have qrels; a query with no run scores 0.

>>> qrels = {"q1": {"d1": 2, "d2": 1}, "q2": {"d9": 1}}
>>> run = {"q1": ["d2", "d3", "d1"], "q2": ["d4"]}
>>> m = evaluate_run(run, qrels)
>>> round(m["ndcg@10"], 4), m["recall@100"], m["mrr@10"]
(0.3801, 0.5, 0.5)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ponder.evaluate.beir import BeirData, Qrels
from ponder.rag.retrieve import retrieve

if TYPE_CHECKING:
    from ponder.rag.retrieve import RetrievalConfig
    from ponder.store.collection import Collection

Run = Mapping[str, Sequence[str]]  # query id -> doc ids, best first


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain of gains in rank order (``gain / log2(rank + 1)``).

    >>> dcg([1, 0, 1])
    1.5
    """
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)


def ndcg_at(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranked list against one query's graded judgments.

    >>> ndcg_at(["a", "b"], {"b": 1}, 10) == 1 / math.log2(3)
    True
    >>> ndcg_at(["x"], {"b": 0}, 10)
    0.0
    """
    ideal = dcg(sorted((g for g in rels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([max(rels.get(d, 0), 0) for d in ranked[:k]]) / ideal


def recall_at(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top k.

    >>> recall_at(["a", "b", "c"], {"a": 1, "c": 1, "z": 1}, 2)
    0.3333333333333333
    """
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at(ranked: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top k (0 if none).

    >>> mrr_at(["a", "b", "c"], {"c": 1}, 10), mrr_at(["a", "b", "c"], {"c": 1}, 2)
    (0.3333333333333333, 0.0)
    """
    for i, d in enumerate(ranked[:k], start=1):
        if rels.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


def per_query_metrics(
    run: Run, qrels: Qrels, *, ndcg_k: int = 10, recall_k: int = 100, mrr_k: int = 10
) -> dict[str, dict[str, float]]:
    """``{query id: {metric: value}}`` for every query in ``qrels`` (missing runs score 0).

    Duplicate doc ids in a ranked list count once, at their best rank.
    """
    out: dict[str, dict[str, float]] = {}
    for qid, rels in qrels.items():
        ranked = list(dict.fromkeys(run.get(qid, ())))
        out[qid] = {
            f"ndcg@{ndcg_k}": ndcg_at(ranked, rels, ndcg_k),
            f"recall@{recall_k}": recall_at(ranked, rels, recall_k),
            f"mrr@{mrr_k}": mrr_at(ranked, rels, mrr_k),
        }
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries."""
    if not per_query:
        return {}
    names = next(iter(per_query.values())).keys()
    return {m: sum(q[m] for q in per_query.values()) / len(per_query) for m in names}


def evaluate_run(
    run: Run, qrels: Qrels, *, ndcg_k: int = 10, recall_k: int = 100, mrr_k: int = 10
) -> dict[str, float]:
    """Mean nDCG@k, recall@k and MRR@k of a run over the queries of ``qrels``."""
    return mean_metrics(
        per_query_metrics(run, qrels, ndcg_k=ndcg_k, recall_k=recall_k, mrr_k=mrr_k)
    )


# ---------------------------------------------------------------------------------- runner
@dataclass
class RetrievalResult:
    """One mode's evaluation: mean metrics, per-query values, the config and the time taken."""

    mode: str
    metrics: dict[str, float]
    config: dict[str, Any]
    queries: int
    seconds: float
    per_query: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    def to_dict(self, *, with_per_query: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_per_query:
            d.pop("per_query")
        d["queries_per_second"] = self.queries / self.seconds if self.seconds > 0 else None
        return d


def run_queries(
    collection: Collection,
    queries: Mapping[str, str],
    config: RetrievalConfig,
    *,
    depth: int = 100,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[str]]:
    """Retrieve ``depth`` hits per query; return ``{query id: [doc id, ...]}`` best first.

    Chunks map to their document; a document found through several chunks counts once, at its
    best rank.
    """

    cfg = config.replace(k=depth, min_score=None)
    run: dict[str, list[str]] = {}
    for qid, text in queries.items():
        hits = retrieve(collection, text, cfg)
        run[qid] = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        if progress:
            progress(1)
    return run


def evaluate_beir(
    collection: Collection,
    data: BeirData,
    config: RetrievalConfig,
    *,
    ndcg_k: int = 10,
    recall_k: int = 100,
    mrr_k: int = 10,
    progress: Callable[[int], None] | None = None,
) -> RetrievalResult:
    """Run ``data``'s queries against ``collection`` (already holding the corpus) and score them."""
    t0 = time.perf_counter()
    run = run_queries(
        collection, data.queries, config, depth=max(ndcg_k, recall_k, mrr_k), progress=progress
    )
    seconds = time.perf_counter() - t0
    per_query = per_query_metrics(run, data.qrels, ndcg_k=ndcg_k, recall_k=recall_k, mrr_k=mrr_k)
    cfg = asdict(config)
    cfg.pop("k")
    cfg.pop("min_score")
    if config.mode != "hybrid":
        for key in ("fusion", "weights", "rrf_k", "candidates"):
            cfg.pop(key)
    return RetrievalResult(
        mode=config.mode,
        metrics=mean_metrics(per_query),
        config=cfg,
        queries=len(data.queries),
        seconds=seconds,
        per_query=per_query,
    )


def markdown_table(rows: Sequence[tuple[str, Mapping[str, float]]], metrics: Sequence[str]) -> str:
    """A Markdown table of ``(label, metrics)`` rows.

    >>> print(markdown_table([("bm25", {"ndcg@10": 0.66512})], ["ndcg@10"]))
    | mode | ndcg@10 |
    |---|---|
    | bm25 | 0.6651 |
    """
    lines = ["| mode | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for label, values in rows:
        cells = [f"{values[m]:.4f}" if m in values else "" for m in metrics]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
