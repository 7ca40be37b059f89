"""``ponder eval perplexity``: token-level perplexity of a model over a text file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ponder.cli.common import RateColumn, console, console_err, print_json, progress_bar, settings
from ponder.cli.eval import eval_app
from ponder.cli.tracking import MLFLOW_OPTION, track_result
from ponder.errors import ConfigError


def eval_perplexity(
    model: str = typer.Option("default", "--model", "-m",
                              help="default | HF folder (e.g. OUT/merged) | FILE.gguf."),
    input_path: Path = typer.Option(..., "--input", "-i", help=".jsonl (one text per line) or "
                                    ".txt (the whole file)."),
    text_field: str = typer.Option("text", "--text-field", help="JSONL field holding the text."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="First N texts of a JSONL."),
    window: int = typer.Option(512, "--window", help="Tokens of context per window."),
    stride: int = typer.Option(256, "--stride", help="Tokens the window moves by."),
    batch_size: int = typer.Option(4, "--batch-size"),
    threads: int | None = typer.Option(None, "--threads"),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the result as JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Perplexity (exp of the mean negative log-likelihood per predicted token), with a
    sliding window over texts longer than --window."""
    from ponder.finetune.perplexity import load_for_perplexity, load_texts, perplexity

    if limit is not None and limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    texts = load_texts(input_path, text_field=text_field, limit=limit)
    m, tok, name = load_for_perplexity(model, threads=threads or settings().threads)
    with progress_bar(RateColumn()) as bar:
        task = bar.add_task("windows", total=None)
        result = perplexity(m, tok, texts, window=window, stride=stride, batch_size=batch_size,
                            name=name, source=str(input_path),
                            progress=lambda n: bar.advance(task, n))
    track_result(mlflow, "eval perplexity", result.to_dict(), dataset=input_path,
                 params={"model": model, "model_id": name})
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        console_err.print(f"wrote {output}")
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"perplexity {result.perplexity:.4f} over {result.tokens} tokens of "
                  f"{result.texts} texts (model {name}, window {result.window}, stride "
                  f"{result.stride}, {result.seconds:.1f} s)")


def register(app: typer.Typer) -> None:
    eval_app.command("perplexity")(eval_perplexity)
