"""``ponder ops``: the RAG application as a registered MLflow model.

    ponder ops log-model --collection notes --name notes-rag [--model smollm2] [--k 3]
    ponder ops promote notes-rag --version 2 --alias champion --if "ndcg_at_10>=0.70"
    ponder ops compare notes-rag
    ponder ops lineage notes-rag --version 2
    ponder ops link-eval notes-rag --version 2 --run RUN_ID
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, parse_weights, print_json, settings
from ponder.errors import ConfigError

ops_app = typer.Typer(
    name="ops",
    help="MLflow: log the RAG app as a registered model, promote, compare, lineage.",
    no_args_is_help=True,
)


def _options(pairs: list[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` ask options (VALUE parsed as JSON when it is JSON).

    >>> _options(["min_score=-1", "defense=fence"])
    {'min_score': -1, 'defense': 'fence'}
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: write KEY=VALUE, e.g. --option min_score=-1")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def log_model(
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to snapshot."),
    name: str = typer.Option(..., "--name", help="Registered model name (a new version)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Generator spec (settings)."),
    retrieval: str | None = typer.Option(None, "--retrieval", help="dense | bm25 | hybrid."),
    k: int | None = typer.Option(None, "-k", "--k", help="Chunks to retrieve."),
    chain: str | None = typer.Option(None, "--chain", help="stuff | map_reduce | refine | ..."),
    answer: str | None = typer.Option(None, "--answer", help="auto | generative | extractive."),
    weights: str | None = typer.Option(None, "--weights", help="Hybrid weights DENSE,BM25."),
    max_new_tokens: int | None = typer.Option(None, "--max-tokens", help="Answer tokens."),
    option: list[str] | None = typer.Option(
        None, "--option", help="Any other ask option, KEY=VALUE (repeatable)."
    ),
    copy_generator: bool | None = typer.Option(
        None, "--copy-generator/--reference-generator",
        help="Copy the weights into the model (default: copy files given by path, reference "
        "the embedded smollm2, checked by sha256).",
    ),
    eval_run: str | None = typer.Option(
        None, "--eval-run", help="Evaluation run id whose metrics gate promotion, or 'latest'."
    ),
    description: str = typer.Option("", "--description", help="Version description."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Log the RAG app over a collection snapshot as an MLflow pyfunc; register a version."""
    from ponder.ops.model import log_rag_model

    opts = {k2: v for k2, v in {
        "retrieval": retrieval, "k": k, "chain": chain, "answer": answer,
        "weights": list(parse_weights(weights)) if weights else None,
        "max_new_tokens": max_new_tokens,
    }.items() if v is not None}
    opts.update(_options(option))
    logged = log_rag_model(
        collection, name, model=model, ask_options=opts, copy_generator=copy_generator,
        eval_run=eval_run, description=description, home=settings().home,
    )
    if as_json:
        print_json(logged.to_dict())
        return
    lin = logged.lineage
    console.print(
        f"registered [bold]{logged.name}[/] version [bold]{logged.version}[/] "
        f"(models:/{logged.name}/{logged.version}, run {logged.run_id})", highlight=False)
    console.print(
        f"  collection {lin.collection} at catalog version {lin.catalog_version} "
        f"({logged.snapshot_chunks} chunks), embedder {lin.embedder_id}", highlight=False)
    how = "copied" if logged.generator_copied else "referenced"
    console.print(f"  generator {lin.generator_id} ({how}"
                  + (f", sha256 {lin.generator_sha256[:12]}…" if lin.generator_sha256 else "")
                  + f"), prompt {lin.prompt_template_version}, options {lin.ask_options}",
                  highlight=False)
    if logged.eval_run_id:
        console.print(f"  evaluation run {logged.eval_run_id}", highlight=False)
    console.print(f"next: ponder ops promote {name} --version {logged.version} --alias "
                  "challenger", highlight=False)


def promote(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(..., "--version", "-v", help="Version to promote."),
    alias: str = typer.Option("champion", "--alias", help="champion | challenger."),
    gate: str | None = typer.Option(
        None, "--if", help="Gate on the version's evaluation run, e.g. 'ndcg_at_10>=0.70'."
    ),
    reason: str = typer.Option("", "--reason", help="Why (recorded as a tag)."),
    by: str | None = typer.Option(None, "--by", help="Who (default: the user name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Set an alias on a version, only when the gate passes; who/what/why become tags.
    A refused promotion exits with status 1."""
    from ponder.ops.registry import promote as run_promote

    p = run_promote(name, version, alias, gate=gate, reason=reason, by=by,
                    home=settings().home)
    if as_json:
        print_json(p.to_dict())
    elif p.promoted:
        console.print(f"[green]{p.message}[/]", highlight=False)
    else:
        console_err.print(f"[yellow]{p.message}[/]", highlight=False)
    if not p.promoted:
        raise typer.Exit(1)


def compare(
    name: str = typer.Argument(..., help="Registered model name."),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Comma-separated metrics to show (default: all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the versions as JSON."),
) -> None:
    """A table of the versions: aliases, collection and catalog version, models, metrics."""
    from ponder.ops.registry import compare as run_compare

    rows = run_compare(name, home=settings().home)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    names: list[str] = []
    if metrics:
        names = [m.strip() for m in metrics.split(",") if m.strip()]
    else:
        for r in rows:
            names += [m for m in sorted(r.metrics) if m not in names]
    table = Table(title=f"{name}: {len(rows)} version(s)")
    for col in ("version", "aliases", "collection@version", "generator", "eval run"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.version, ",".join(r.aliases) or "-", f"{r.collection}@{r.catalog_version}",
                      r.generator, (r.eval_run_id or "-")[:12])
    console.print(table)
    if not names:
        console.print("[dim]no version has an evaluation run: log-model --eval-run or "
                      "ops link-eval attach one[/]")
        return
    grid = Table(title="evaluation metrics")  # one row per metric: stays narrow
    grid.add_column("metric")
    for r in rows:
        grid.add_column(f"v{r.version}" + (f" ({','.join(r.aliases)})" if r.aliases else ""),
                        justify="right")
    for m in names:
        grid.add_row(m, *(f"{r.metrics[m]:.4f}" if m in r.metrics else "-" for r in rows))
    console.print(grid)


def lineage(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str | None = typer.Option(None, "--version", "-v", help="Version number."),
    alias: str | None = typer.Option(None, "--alias", help="Or an alias (champion...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the lineage as JSON."),
) -> None:
    """What the version's answers depend on: collection catalog version, embedder id,
    generator file hash, prompt template version, options; and promotions."""
    from ponder.ops.registry import lineage_of

    if (version is None) == (alias is None):
        raise ConfigError("give exactly one of --version V or --alias NAME")
    info = lineage_of(name, version, alias, home=settings().home)
    if as_json:
        print_json(info)
        return
    lin = info["lineage"]
    console.print(f"[bold]{name}[/] version {info['version']} (run {info['run_id']})",
                  highlight=False)
    for key in ("collection", "catalog_version", "embedder_id", "generator_spec",
                "generator_id", "generator_sha256", "prompt_template_version",
                "ask_options", "ponder_version"):
        console.print(f"  {key:24} {lin.get(key)}", highlight=False)
    console.print(f"  {'collection now':24} {info['collection_state']}", highlight=False)
    if info["eval_run_id"]:
        console.print(f"  {'evaluation run':24} {info['eval_run_id']}", highlight=False)
    for key, value in info["promotions"].items():
        console.print(f"  {key:24} {value}", highlight=False)


def link_eval(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Option(..., "--version", "-v", help="Version number."),
    run: str = typer.Option(..., "--run", help="Evaluation run id (printed by --mlflow)."),
) -> None:
    """Attach an evaluation run to a version: its metrics gate promotions."""
    from ponder.ops.registry import link_eval as run_link

    run_link(name, version, run, home=settings().home)
    console.print(f"{name} version {version}: evaluation run {run}", highlight=False)


ops_app.command("log-model")(log_model)
ops_app.command("promote")(promote)
ops_app.command("compare")(compare)
ops_app.command("lineage")(lineage)
ops_app.command("link-eval")(link_eval)


def register(app: typer.Typer) -> None:
    app.add_typer(ops_app, name="ops")
