"""``ponder eval summarization | sentiment | zeroshot | translation``: the task pipelines on the
shared real data sets, each against simple baselines measured in the same run
(``ponder.evaluate.tasks_eval``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, progress_bar, settings
from ponder.cli.eval import eval_app
from ponder.cli.tracking import MLFLOW_OPTION, track_result
from ponder.errors import ConfigError
from ponder.llm import load_generator

_DEFAULT_N = {"summarization": 100, "sentiment": 500, "zeroshot": 500, "zeroshot-dev": 150,
              "translation": 100}
_N = typer.Option(
    None, "--n", help="Items in the fixed-seed subset (default per task; sentiment: 0 = all)."
)
_SEED = typer.Option(0, "--seed", help="Seed of the subset.")
_MODEL = typer.Option(None, "--model", "-m", help="Generator spec (default: smollm2).")
_EMBEDDER = typer.Option(None, "--embedder", help="Embedder for embedding-based methods.")
_THREADS = typer.Option(
    None, "--threads", help="llama.cpp threads (1 is fastest on a busy shared CPU)."
)
_OUTPUT = typer.Option(None, "--output", "-o", help="Save the result as JSON (and FILE.md).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def _generator(model: str | None, threads: int | None) -> Any:
    spec = model or settings().model
    kwargs: dict[str, Any] = {}
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"--threads {threads} must be >= 1")
        low = (spec or "smollm2").lower()
        if low.startswith("openai:") or low in ("fake", "scripted", "toy"):
            raise ConfigError("--threads applies to local llama.cpp models only")
        kwargs["n_threads"] = threads
    return load_generator(spec, **kwargs)


def _run(task: str, n: int | None, output: Path | None, as_json: bool, mlflow: bool = False,
         **kwargs: Any) -> None:
    from ponder.evaluate.tasks_eval import EVALUATIONS, to_markdown

    n = _DEFAULT_N[task] if n is None else n
    if n < 1 and not (task == "sentiment" and n == 0):
        raise ConfigError(f"--n {n} must be >= 1")
    passes = {"summarization": 2, "sentiment": 2, "zeroshot": 2, "zeroshot-dev": 6,
              "translation": 1}[task]
    total: int | None = n * passes
    if task == "summarization":
        k = kwargs.get("abstractive_n")
        total += n if k is None else min(k, n)
    if task == "sentiment":
        k = kwargs.get("llm_n")
        total = None if n == 0 else n * 2 + (n if k is None else min(k, n))
    with progress_bar(transient=True) as bar:
        job = bar.add_task(f"eval {task}", total=total)
        result = EVALUATIONS[task](n or None, progress=lambda k: bar.advance(job, k), **kwargs)
    md = to_markdown(result)
    track_result(mlflow, f"eval {task}", result, artifacts={"result.md": md + "\n"})
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        output.with_suffix(".md").write_text(md + "\n", encoding="utf-8")
        console_err.print(f"[dim]saved {output} and {output.with_suffix('.md')}[/]")
    if as_json:
        console.print_json(json.dumps(result, ensure_ascii=False))
        return
    _table(result)


def _table(result: dict[str, Any]) -> None:
    from ponder.evaluate.tasks_eval import COLUMNS

    cols = COLUMNS[result["task"]]
    table = Table(
        title=f"{result['task']}: {result['data']} (n={result['n']}, seed {result['seed']}, "
        f"model {result.get('model') or '-'})"
    )
    table.add_column("system")
    for c in cols:
        table.add_column(c, justify="right")
    for row in result["systems"]:
        table.add_row(row["system"], *[str(row.get(c, "")) for c in cols])
    console.print(table)
    for note in result.get("notes", []):
        console_err.print(f"[dim]note: {note}[/]", highlight=False)


def summarization(
    n: int | None = _N, seed: int = _SEED, model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER, threads: int | None = _THREADS,
    abstractive_n: int | None = typer.Option(
        None, "--abstractive-n", help="Run the LLM on the first K articles only (0: skip it)."
    ),
    output: Path | None = _OUTPUT, as_json: bool = _JSON, mlflow: bool = MLFLOW_OPTION,
) -> None:
    """ROUGE-1/2/L on FRANK test articles: lead-3, extractive and abstractive."""
    if abstractive_n is not None and abstractive_n < 0:
        raise ConfigError(f"--abstractive-n {abstractive_n} must be >= 0")
    _run("summarization", n, output, as_json, mlflow, seed=seed, model=_generator(model, threads),
         embedder=embedder or settings().embedder, abstractive_n=abstractive_n)


def sentiment(
    n: int | None = _N, seed: int = _SEED, model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER, threads: int | None = _THREADS,
    llm_n: int | None = typer.Option(
        None, "--llm-n", help="Run the LLM on the first K tweets only (0: skip it)."
    ),
    output: Path | None = _OUTPUT, as_json: bool = _JSON, mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Accuracy and macro-F1 on TweetEval test: majority class, the classifier head (the
    default), embedding, and the LLM."""
    if llm_n is not None and llm_n < 0:
        raise ConfigError(f"--llm-n {llm_n} must be >= 0")
    _run("sentiment", n, output, as_json, mlflow, seed=seed,
         model=_generator(model, threads) if llm_n != 0 else None,
         embedder=embedder or settings().embedder, llm_n=llm_n)


def zeroshot(
    n: int | None = _N, seed: int = _SEED, model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER, threads: int | None = _THREADS,
    output: Path | None = _OUTPUT, as_json: bool = _JSON, mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Zero-shot classification of TweetEval with its labels as free labels, both methods."""
    _run("zeroshot", n, output, as_json, mlflow, seed=seed, model=_generator(model, threads),
         embedder=embedder or settings().embedder)


def zeroshot_dev(
    n: int | None = _N, seed: int = _SEED, model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER, threads: int | None = _THREADS,
    output: Path | None = _OUTPUT, as_json: bool = _JSON, mlflow: bool = MLFLOW_OPTION,
) -> None:
    """The zero-shot dev set (TweetEval val of sentiment, offensive, hate with label words as
    free labels): embedding vs LLM, the measurement behind the zero-shot default."""
    _run("zeroshot-dev", n, output, as_json, mlflow, seed=seed, model=_generator(model, threads),
         embedder=embedder or settings().embedder)


def translation(
    n: int | None = _N, seed: int = _SEED, model: str | None = _MODEL,
    threads: int | None = _THREADS, output: Path | None = _OUTPUT, as_json: bool = _JSON,
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """chrF and BLEU on WMT22 en-de: the model against copying the source."""
    _run("translation", n, output, as_json, mlflow, seed=seed, model=_generator(model, threads))


def register(app: typer.Typer) -> None:
    eval_app.command("summarization")(summarization)
    eval_app.command("sentiment")(sentiment)
    eval_app.command("zeroshot")(zeroshot)
    eval_app.command("zeroshot-dev")(zeroshot_dev)
    eval_app.command("translation")(translation)
