"""``ponder toxicity`` (a toxicity score per text) and ``ponder eval toxicity`` (macro-F1 on
TweetEval offensive or hate test against the majority class and the published baselines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, print_json, progress_bar
from ponder.cli.eval import eval_app
from ponder.cli.tasks import _FIELD, _INPUT, _JSON, _OUTPUT, _TEXT, _run
from ponder.cli.tracking import MLFLOW_OPTION, track_result
from ponder.errors import ConfigError

_METHOD = typer.Option(
    "head", "--method", help="head (MiniLM classifier, calibrated; default) | llm (yes/no)."
)
_MODEL = typer.Option(None, "--model", "-m", help="Generator for --method llm (default smollm2).")
_EMBEDDER = typer.Option(
    None, "--embedder", help="Embedder for the head (default: the one it was trained with)."
)


def _show(r: dict[str, Any]) -> str:
    return f"{r['label']}\t{r['score']:.3f}\tmethod: {r['method']} ({r['method_detail']})"


def _head_arg(task: str, head_file: Path | None) -> Any:
    if head_file is None:
        return task
    from ponder.tasks.head import EmbeddingHead

    return EmbeddingHead.load(head_file)


def toxicity(
    text: str | None = _TEXT,
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    method: str = _METHOD,
    head: str = typer.Option(
        "offensive", "--head", help="offensive (OffensEval; default) | hate (HatEval)."
    ),
    head_file: Path | None = typer.Option(
        None, "--head-file", help="A head .npz of your own (scripts/train_heads.py)."
    ),
    threshold: float = typer.Option(0.5, "--threshold", help="Score at or above: 'toxic'."),
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
) -> None:
    """A toxicity/offensiveness score per text (0..1, calibrated) and a label: toxic or ok."""
    from ponder.safety.toxic import ToxicityScorer

    pipe = ToxicityScorer(method=method, head=_head_arg(head, head_file), threshold=threshold,
                          model=model, embedder=embedder)
    _run(pipe, text, input_file, text_field, output, as_json, _show)


def eval_toxicity(
    tweeteval: Path | None = typer.Option(
        None, "--tweeteval", help="TweetEval folder (default ../shared/datasets/tweeteval)."
    ),
    task: str = typer.Option("offensive", "--task", help="offensive | hate."),
    method: str = _METHOD,
    llm_n: int = typer.Option(
        0, "--llm-n", help="Also score the first N test tweets with the LLM (slow; 0: no)."
    ),
    threshold: float = typer.Option(0.5, "--threshold", help="Score at or above: toxic."),
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
    output: Path | None = typer.Option(
        None, "--output", "-o",
        help="JSON result; the .md table and .png chart go beside it (default "
        "eval-toxicity-TASK.json).",
    ),
    as_json: bool = _JSON,
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Macro-F1 on TweetEval offensive/hate test: the head (and the LLM), the majority class
    and the published TweetEval baselines. Writes JSON, Markdown and a PNG chart."""
    from ponder.evaluate.toxicity_eval import eval_toxicity as run
    from ponder.evaluate.toxicity_eval import write_outputs

    if llm_n < 0:
        raise ConfigError(f"--llm-n {llm_n} must be >= 0")
    if not 0 < threshold < 1:
        raise ConfigError(f"--threshold {threshold} must be between 0 and 1, e.g. 0.5")
    with progress_bar(transient=True) as bar:
        job = bar.add_task(f"eval toxicity {task}", total=None)
        result = run(task, tweeteval=tweeteval, method=method, llm_n=llm_n, model=model,
                     embedder=embedder, threshold=threshold,
                     progress=lambda k: bar.advance(job, k))
    out = output or Path(f"eval-toxicity-{task}.json")
    written = write_outputs(result, out)
    console_err.print(f"[dim]wrote {', '.join(str(p) for p in written)}[/]", highlight=False)
    track_result(mlflow, f"eval toxicity {task}", result,
                 artifacts={Path(p).name: Path(p) for p in written if Path(p).is_file()},
                 dataset=tweeteval if tweeteval is not None and tweeteval.exists() else None)
    if as_json:
        print_json(result)
        return

    table = Table(title=f"toxicity: TweetEval {task} test (n={result['n']})")
    for col in ("system", "macro_f1", "accuracy", "f1_toxic", "ece"):
        table.add_column(col, justify="left" if col == "system" else "right")
    for row in result["systems"]:
        table.add_row(row["system"], *[str(row.get(c, "")) for c in
                                       ("macro_f1", "accuracy", "f1_toxic", "ece")])
    console.print(table)
    console_err.print(f"[dim]published: {result['published_source']}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("toxicity")(toxicity)
    eval_app.command("toxicity")(eval_toxicity)
