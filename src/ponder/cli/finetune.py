"""``ponder finetune llm`` and ``ponder finetune embedder``: training on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.progress import TextColumn
from rich.table import Table

from ponder.cli.common import console, console_err, print_json, progress_bar, settings
from ponder.errors import ConfigError, InputError

finetune_app = typer.Typer(
    name="finetune", help="Fine-tune the shipped models on your data (CPU).",
    no_args_is_help=True,
)


def _targets(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names:
        raise ConfigError("--lora-targets: give module names, e.g. q_proj,v_proj")
    return names


def llm(
    data: Path = typer.Option(..., "--data", help="Training JSONL: prompt/completion or messages."),
    out: Path = typer.Option(..., "--out", help="Output folder (adapter/, merged/, model.gguf)."),
    eval_data: Path | None = typer.Option(None, "--eval", help="Eval JSONL (loss, perplexity)."),
    base: str = typer.Option("default", "--base", help="default | HF folder | FILE.gguf."),
    method: str = typer.Option("lora", "--method", help="lora | full."),
    epochs: int = typer.Option(1, "--epochs"),
    lr: float | None = typer.Option(None, "--lr", help="Learning rate (2e-4 LoRA, 2e-5 full)."),
    batch_size: int = typer.Option(8, "--batch-size"),
    grad_accum: int = typer.Option(1, "--grad-accum", help="Micro-batches per optimizer step."),
    max_length: int = typer.Option(256, "--max-length", help="Tokens per example (longer: cut)."),
    lora_r: int = typer.Option(8, "--lora-r"),
    lora_alpha: int = typer.Option(16, "--lora-alpha"),
    lora_dropout: float = typer.Option(0.05, "--lora-dropout"),
    lora_targets: str | None = typer.Option(
        None, "--lora-targets", help="Comma-separated modules (default: all attention + MLP)."),
    lora_layers: int | None = typer.Option(
        None, "--lora-layers", help="Adapt only the top N layers (cheaper backward pass)."),
    seed: int = typer.Option(0, "--seed"),
    bf16: str = typer.Option("auto", "--bf16", help="auto (if the CPU has bf16) | on | off."),
    save_every: int = typer.Option(50, "--save-every", help="Checkpoint every N steps."),
    patience: int = typer.Option(1, "--patience", help="Epochs without eval gain before stop."),
    max_steps: int | None = typer.Option(None, "--max-steps"),
    max_minutes: float | None = typer.Option(None, "--max-minutes", help="Stop (and export) "
                                             "after this much training time."),
    threads: int | None = typer.Option(None, "--threads"),
    quantization: str = typer.Option("q8_0", "--quantization", help="GGUF: q8_0 | f16 | f32."),
    no_gguf: bool = typer.Option(False, "--no-gguf", help="Skip the GGUF export."),
    strict: bool = typer.Option(False, "--strict", help="A malformed JSONL line is fatal."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT's last checkpoint."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    mlflow: bool = typer.Option(False, "--mlflow", help="Track the run in MLflow."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """LoRA or full fine-tuning of a causal LM (default: the shipped SmolLM2-135M-Instruct),
    loss on completion tokens only; writes the adapter, a merged model and a GGUF file."""
    from ponder.finetune.llm import LLAMA_TARGETS, FinetuneConfig, Trainer

    cfg = FinetuneConfig(
        method=method, epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum,
        max_length=max_length, lora_r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
        target_modules=_targets(lora_targets) or LLAMA_TARGETS, lora_layers=lora_layers,
        seed=seed, bf16=bf16,
        save_every=save_every, patience=patience, max_steps=max_steps, max_minutes=max_minutes,
        threads=threads or settings().threads, strict=strict, quantization=quantization,
        export_gguf=not no_gguf,
    ).validate()
    if mlflow:
        from ponder.finetune.tracking import check_tracking

        check_tracking()
    bar = progress_bar(
        TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
    )
    task_id: list[Any] = []

    def on_step(s: Any) -> None:
        if not task_id:
            task_id.append(bar.add_task("train", total=s.total_steps, completed=s.step - 1,
                                        loss="-", tps="-"))
        bar.update(task_id[0], completed=s.step, loss=f"{s.loss:.4f}",
                   tps=f"{s.tokens_per_s:.0f}")

    def on_eval(e: Any) -> None:
        bar.console.print(f"epoch {e.epoch}: eval loss {e.loss:.4f}, perplexity "
                          f"{e.perplexity:.3f} ({e.tokens} tokens)")

    trainer = Trainer(
        data, out, eval_data=eval_data, base=base, config=cfg, resume=resume,
        overwrite=overwrite, on_step=on_step, on_eval=on_eval,
        on_notice=lambda m: console_err.print(f"notice: {m}", highlight=False),
    )
    with bar:
        result = trainer.run()
    tracked = None
    if mlflow:
        from ponder.finetune.tracking import track_llm_run

        tracked = track_llm_run(result, home=settings().home)
    report = result.to_dict()
    if tracked is not None:
        report["mlflow"] = tracked
    if as_json:
        report.pop("losses", None)
        print_json(report)
        return
    table = Table(title=f"finetune llm ({cfg.method}) -> {out}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    rows = [
        ("base", result.base["spec"]),
        ("examples", f"{result.train_data['examples']} ({len(result.train_data['skipped'])} "
                     f"lines skipped, {result.train_data['truncated']} truncated)"),
        ("steps", f"{result.steps}/{result.total_steps} ({result.stopped})"),
        ("trainable", f"{result.trainable_params:,} of {result.total_params:,} parameters"),
        ("speed", f"{result.tokens_per_s:.0f} tokens/s (bf16 autocast: "
                  f"{'on' if result.bf16 else 'off'}), {result.wall_s:.0f} s in all"),
    ]
    for e in result.evals:
        rows.append((f"eval epoch {e['epoch']}", f"loss {e['loss']:.4f}, perplexity "
                                                 f"{e['perplexity']:.3f}"))
    if result.adapter_dir:
        rows.append(("adapter", result.adapter_dir))
    rows.append(("merged", result.merged_dir))
    if result.gguf:
        rows.append(("gguf", f"{result.gguf['path']} ({result.gguf['quantization']})"))
    if tracked is not None:
        rows.append(("mlflow run", str(tracked.get("run_id"))))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


def embedder(
    out: Path = typer.Option(..., "--out", help="Output folder (a sentence-transformers model)."),
    pairs: Path | None = typer.Option(None, "--pairs", help="JSONL: query, positive[, negative]."),
    beir: Path | None = typer.Option(None, "--beir", help="BEIR folder (corpus, queries, qrels)."),
    split: str = typer.Option("train", "--split", help="BEIR qrels split to train on."),
    epochs: int = typer.Option(1, "--epochs"),
    batch_size: int = typer.Option(32, "--batch-size", help="Pairs per batch (in-batch negs)."),
    lr: float = typer.Option(2e-5, "--lr"),
    hard_negatives: bool = typer.Option(False, "--hard-negatives",
                                        help="Add one BM25-mined negative per pair."),
    max_seq_length: int = typer.Option(256, "--max-seq-length"),
    seed: int = typer.Option(0, "--seed"),
    bf16: str = typer.Option("auto", "--bf16", help="auto | on | off."),
    threads: int | None = typer.Option(None, "--threads"),
    strict: bool = typer.Option(False, "--strict", help="A malformed JSONL line is fatal."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Contrastive fine-tuning of all-MiniLM-L6-v2 (in-batch negatives, optional BM25 hard
    negatives); use the result with --embedder OUT when creating a collection."""
    from ponder.finetune.embedder import (
        EmbedderTrainConfig,
        beir_pairs,
        mine_bm25_negatives,
        read_pairs,
        train_embedder,
    )
    from ponder.finetune.llm import prepare_out

    if (pairs is None) == (beir is None):
        raise ConfigError("give exactly one of --pairs FILE.jsonl or --beir DIR")
    cfg = EmbedderTrainConfig(epochs=epochs, batch_size=batch_size, lr=lr,
                              max_seq_length=max_seq_length, hard_negatives=hard_negatives,
                              seed=seed, bf16=bf16, threads=threads or settings().threads
                              ).validate()
    skipped = 0
    if pairs is not None:
        rows, bad = read_pairs(pairs, strict=strict)
        for b in bad[:5]:
            console_err.print(f"notice: {pairs} line {b.line} skipped: {b.reason}",
                              highlight=False)
        skipped = len(bad)
        if hard_negatives:
            raise InputError("--hard-negatives mines from a corpus: use it with --beir, or put "
                             '"negative" in each line of --pairs')
    else:
        assert beir is not None
        rows, corpus, relevant = beir_pairs(beir, split)
        if hard_negatives:
            rows = mine_bm25_negatives(rows, corpus, relevant)
    prepare_out(out, overwrite=overwrite, resume=False)
    with progress_bar(TextColumn("loss {task.fields[loss]}")) as bar:
        tid = bar.add_task("train", total=None, loss="-")

        def on_step(step: int, total: int, loss: float) -> None:
            bar.update(tid, total=total, completed=step, loss=f"{loss:.4f}")

        result = train_embedder(rows, out, config=cfg, skipped=skipped, on_step=on_step)
    if as_json:
        d = result.to_dict()
        d.pop("losses")
        print_json(d)
        return
    console.print(
        f"trained on {result.pairs} pairs ({result.hard_negatives} with hard negatives), "
        f"{result.steps} steps in {result.wall_s:.0f} s; model id {result.model_id}\n"
        f"use it: ponder ingest ... --embedder {out}   (or --embedder {out} in ponder eval "
        "retrieval)")


def register(app: typer.Typer) -> None:
    finetune_app.command("llm")(llm)
    finetune_app.command("embedder")(embedder)
    app.add_typer(finetune_app, name="finetune")
