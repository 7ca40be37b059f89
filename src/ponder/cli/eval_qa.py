"""``ponder eval qa``: question answering on SQuAD-format data, RAG vs closed book."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import RateColumn, console, print_json, progress_bar, settings
from ponder.cli.eval import eval_app
from ponder.cli.tracking import MLFLOW_OPTION, track
from ponder.errors import ConfigError


def _collection_name(path: Path) -> str:
    """``squad-<file stem>`` (``xquad.en.json`` -> ``squad-xquad-en``).

    >>> _collection_name(Path("data/xquad.en.json"))
    'squad-xquad-en'
    """
    stem = re.sub(r"\.json$", "", path.name.lower())
    return ("squad-" + re.sub(r"[^a-z0-9_\-]+", "-", stem).strip("-_"))[:64]


def eval_qa(
    squad: Path = typer.Option(..., "--squad", help="SQuAD-format JSON (e.g. xquad.en.json)."),
    collection: str | None = typer.Option(
        None, "--collection", "-c", help="Collection for the paragraphs (default squad-NAME)."
    ),
    limit: int | None = typer.Option(
        None, "--limit", "-n", help="Evaluate N questions spread over the file (default all)."
    ),
    ks: list[int] | None = typer.Option(
        None, "-k", "--k", help="Chunks to retrieve; repeat to compare (default 3)."
    ),
    models: list[str] | None = typer.Option(
        None, "--model", "-m", help="Model spec; repeat to compare (default: settings)."
    ),
    chain: str = typer.Option("stuff", "--chain", help="stuff | map_reduce | refine | map_rerank."),
    answers: list[str] | None = typer.Option(
        None, "--answer", help="auto | generative | extractive; repeat to compare (default auto)."
    ),
    retrieval: str = typer.Option("hybrid", "--retrieval", help="dense | bm25 | hybrid."),
    context_tokens: int | None = typer.Option(
        None, "--context-tokens", help="Token budget for sources (default 480)."
    ),
    max_new_tokens: int | None = typer.Option(None, "--max-tokens", help="Answer tokens (64)."),
    closed_book: bool = typer.Option(
        True, "--closed-book/--no-closed-book", help="Also answer without sources."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write results as JSON."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown table."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Exact match, F1, answer contained, hit@k of the gold paragraph, citations of it,
    unsupported sentences and latency, for RAG and closed book."""
    from ponder.evaluate.qa import (
        evaluate_qa,
        ingest_paragraphs,
        load_squad,
        markdown_table,
        records_json,
        sample_examples,
    )
    from ponder.rag.ask import DEFAULT_K, AskConfig
    from ponder.store.collection import Collection

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    paragraphs, examples = load_squad(squad)
    examples = sample_examples(examples, limit)
    name = collection or _collection_name(squad)
    model_list = list(models or [settings().model])
    k_list = list(ks or [DEFAULT_K])
    answer_list = list(dict.fromkeys(answers or ["auto"]))
    for how in answer_list:
        AskConfig(answer=how)  # an unknown mode is refused before any work
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    with Collection.get_or_create(name, home=settings().home) as col:
        with progress_bar(RateColumn()) as bar:
            task = bar.add_task(f"ingest into {name}", total=len(paragraphs))
            added = ingest_paragraphs(col, paragraphs, progress=lambda n: bar.advance(task, n))
            bar.update(task, completed=len(paragraphs))
        runs: list[tuple[str, str, AskConfig | None, str]] = []
        for m in model_list:
            for k in k_list:
                for how in answer_list:
                    cfg = AskConfig(k=k, chain=chain, retrieval=retrieval, answer=how).replace(
                        max_context_tokens=context_tokens, max_new_tokens=max_new_tokens
                    )
                    label = "extractive" if how == "extractive" else f"{chain} {how}"
                    runs.append((f"{m} rag k={k} {label}", m, cfg, "rag"))
            if closed_book:
                cfg = AskConfig().replace(max_new_tokens=max_new_tokens)
                runs.append((f"{m} closed book", m, cfg, "closed_book"))
        for setting, m, cfg, mode in runs:
            with progress_bar(RateColumn()) as bar:
                task = bar.add_task(setting, total=len(examples))
                summary, records = evaluate_qa(
                    examples, collection=col, model=m, config=cfg, mode=mode,
                    progress=lambda _r, t=task: bar.advance(t),  # type: ignore[misc]
                )
            rows.append({"setting": setting, **summary})
            details[setting] = records_json(records)
    result = {
        "squad": str(squad),
        "collection": name,
        "paragraphs": len(paragraphs),
        "paragraphs_added": added,
        "questions": len(examples),
        "results": rows,
        "records": details,
    }
    track(
        mlflow, "eval qa", dataset=squad,
        params={"collection": name, "models": model_list, "k": k_list, "chain": chain,
                "retrieval": retrieval, "answer": answer_list, "questions": len(examples),
                "context_tokens": context_tokens, "max_new_tokens": max_new_tokens},
        metrics={r["setting"]: {k: v for k, v in r.items() if k != "setting"} for r in rows},
        artifacts={"result.json": {k: v for k, v in result.items() if k != "records"},
                   "records.json": details},
    )
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if markdown:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(markdown_table(rows) + "\n")
    if as_json:
        print_json({k: v for k, v in result.items() if k != "records"})
        return
    table = Table(title=f"QA on {squad.name}: {len(examples)} questions")
    cols = ["setting", "em", "f1", "contains", "hit_at_k", "cited_gold", "unsupported_share",
            "no_answer", "extractive_share", "ttft_p50", "total_p50"]
    for c in cols:
        table.add_column(c, justify="left" if c == "setting" else "right")
    for r in rows:
        table.add_row(*[
            (f"{r[c]:.3f}" if isinstance(r.get(c), float) else str(r.get(c, "–"))) for c in cols
        ])
    console.print(table)


def register(app: typer.Typer) -> None:
    eval_app.command("qa")(eval_qa)
