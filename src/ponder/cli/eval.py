"""``ponder eval``: evaluation commands, one Typer sub-app.

Other modules add their own evaluations to the same group::

    from ponder.cli.eval import eval_app

    def register(app: typer.Typer) -> None:
        eval_app.command("qa")(eval_qa)

``eval_app`` is attached to the root app once, by this module's ``register``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import (
    RateColumn,
    console,
    console_err,
    parse_weights,
    print_json,
    progress_bar,
    settings,
)
from ponder.cli.tracking import MLFLOW_OPTION, track
from ponder.errors import ConfigError

eval_app = typer.Typer(
    name="eval",
    help="Evaluate retrieval and generation on public benchmarks.",
    no_args_is_help=True,
)

_METRICS = ("ndcg@10", "recall@100", "mrr@10")


def default_collection_name(folder: Path) -> str:
    """``beir-<data set>`` from the folder name (``beir_scifact`` -> ``beir-scifact``).

    >>> default_collection_name(Path("datasets/beir_scifact"))
    'beir-scifact'
    >>> default_collection_name(Path("/data/nfcorpus"))
    'beir-nfcorpus'
    """
    name = re.sub(r"^beir[-_]", "", folder.resolve().name.lower())
    name = re.sub(r"[^a-z0-9_\-]+", "-", name).strip("-_") or "data"
    return f"beir-{name}"[:64]


def _modes(value: str) -> list[str]:
    from ponder.rag.retrieve import MODES

    if value.strip() == "all":
        return list(MODES)
    modes = [m.strip() for m in value.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ConfigError(
            f"--retrieval {value!r}: use one or more of {', '.join(MODES)} (comma-separated) "
            "or 'all'"
        )
    return modes


def retrieval(
    beir: Path = typer.Option(
        ..., "--beir", help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."
    ),
    split: str = typer.Option("test", "--split", help="Qrels split to evaluate (qrels/SPLIT.tsv)."),
    modes: str = typer.Option(
        "all", "--retrieval", help="dense, bm25, hybrid, a comma-separated list, or all."
    ),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Collection holding the corpus (default: beir-NAME)."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedding backend by name."),
    fusion: str | None = typer.Option(None, "--fusion", help="Hybrid fusion (see ponder.rag)."),
    weights: str | None = typer.Option(None, "--weights", help="Hybrid weights: DENSE,BM25."),
    candidates: int | None = typer.Option(None, "--candidates", help="Hits per retriever."),
    rrf_k: int | None = typer.Option(None, "--rrf-k", help="RRF constant."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the results as JSON."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown table."),
    per_query: bool = typer.Option(False, "--per-query", help="Add per-query metrics to JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """nDCG@10, recall@100 and MRR@10 of dense, BM25 and hybrid retrieval on BEIR-format data.

    The corpus is ingested once into a collection (title + text per document, the BEIR _id as
    document id) and reused by later runs.
    """
    from ponder.evaluate.beir import ingest_corpus, load_beir
    from ponder.evaluate.retrieval import evaluate_beir, markdown_table
    from ponder.rag.retrieve import RetrievalConfig
    from ponder.store.collection import Collection

    mode_list = _modes(modes)
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "fusion": fusion,
            "weights": parse_weights(weights),
            "candidates": candidates,
            "rrf_k": rrf_k,
        }.items()
        if v is not None
    }
    base = RetrievalConfig().replace(**overrides)
    data = load_beir(beir, split)
    name = collection or default_collection_name(beir)
    col = Collection.get_or_create(name, home=settings().home, embedder=embedder)
    results = []
    with col:
        with progress_bar(RateColumn()) as bar:
            task = bar.add_task(f"corpus -> {name}", total=len(data.corpus))
            added = ingest_corpus(col, data.corpus, progress=lambda n: bar.advance(task, n))
        for mode in mode_list:
            with progress_bar(RateColumn()) as bar:
                task = bar.add_task(f"{mode} queries", total=len(data.queries))
                results.append(
                    evaluate_beir(
                        col,
                        data,
                        base.replace(mode=mode),
                        progress=lambda n, t=task: bar.advance(t, n),  # type: ignore[misc]
                    )
                )
        model = col.model_id
        index_spec = col.index_state.spec.to_json()
    report = {
        "dataset": data.name,
        "path": str(beir),
        "split": split,
        "queries": len(data.queries),
        "corpus": len(data.corpus),
        "collection": name,
        "model": model,
        "documents_embedded_now": added,
        "results": {r.mode: r.to_dict(with_per_query=per_query) for r in results},
    }
    table_md = markdown_table([(r.mode, r.metrics) for r in results], _METRICS)
    track(
        mlflow, "eval retrieval", dataset=beir,
        params={"collection": name, "embedder_id": model, "embedder": embedder or "",
                "split": split, "retrieval": ",".join(mode_list), "queries": len(data.queries),
                "corpus": len(data.corpus), "index": index_spec,
                **{f"{r.mode}.config": r.config for r in results}},
        metrics={r.mode: {**r.metrics, "queries_per_second": r.queries / r.seconds
                          if r.seconds else 0.0} for r in results},
        artifacts={"result.json": report, "results.md": table_md + "\n",
                   "per_query.jsonl": [{"mode": r.mode, "query_id": q, **m}
                                       for r in results for q, m in r.per_query.items()]},
    )
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console_err.print(f"wrote {output}")
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(table_md + "\n", encoding="utf-8")
        console_err.print(f"wrote {markdown}")
    if as_json:
        print_json(report)
        return
    table = Table(title=f"{data.name} {split}: {len(data.queries)} queries, {model}")
    table.add_column("mode")
    for m in _METRICS:
        table.add_column(m, justify="right")
    table.add_column("queries/s", justify="right")
    for r in results:
        qps = r.queries / r.seconds if r.seconds else 0.0
        table.add_row(r.mode, *(f"{r.metrics[m]:.4f}" for m in _METRICS), f"{qps:.1f}")
    console.print(table)


eval_app.command("retrieval")(retrieval)


def register(app: typer.Typer) -> None:
    app.add_typer(eval_app, name="eval")
