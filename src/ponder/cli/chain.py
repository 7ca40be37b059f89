"""``ponder chain run FILE.toml --input JSON [--trace] [--json]`` and ``ponder chain check``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, print_json, settings
from ponder.errors import InputError

chain_app = typer.Typer(help="Typed chains of steps, from TOML files.", no_args_is_help=True)


def _inputs(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    text = value
    if not value.lstrip().startswith("{") and Path(value).is_file():
        text = Path(value).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"--input is not a JSON object ({e}): e.g. --input "
                         "'{\"topic\": \"tea\"}'") from None
    if not isinstance(data, dict):
        raise InputError("--input must be a JSON object, e.g. '{\"topic\": \"tea\"}'")
    return data


def _load(path: Path, model: str | None) -> Any:
    from ponder.chains import load_chain

    home = settings().home
    return load_chain(path, model=model, home=str(home) if home else None)


@chain_app.command("run")
def run(
    path: Path = typer.Argument(..., help="The chain's TOML file."),
    input: str | None = typer.Option(
        None, "--input", "-i", help="The inputs as a JSON object (or a .json file)."
    ),
    model: str | None = typer.Option(None, "--model", "-m",
                                     help="Model for every step that has none."),
    trace: bool = typer.Option(False, "--trace", help="Show each step's input, output, time."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (and trace) as JSON."),
) -> None:
    """Run a chain; the outputs of the last step are printed."""
    values = _inputs(input)
    chain = _load(path, model)
    result = chain.run(values)
    if as_json:
        d = result.to_dict()
        if not trace:
            d.pop("trace")
        print_json(d)
    else:
        if trace:
            console.print(result.rich_tree())
        last = result.trace[-1] if result.trace else None
        table = Table(title=f"{chain.name}: {result.status}", show_header=True)
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for k, v in (last.outputs if last else {}).items():
            table.add_row(k, v if isinstance(v, str) else json.dumps(v, default=str))
        console.print(table)
        if result.reason:
            console_err.print(f"[yellow]{result.reason}[/]", highlight=False)
    if result.status == "error":
        raise typer.Exit(1)


@chain_app.command("check")
def check(
    path: Path = typer.Argument(..., help="The chain's TOML file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Build the chain (so check every step's inputs) and list its typed steps."""
    chain = _load(path, "fake")
    steps = chain.describe()
    if as_json:
        print_json({"name": chain.name, "inputs": list(chain.inputs), "steps": steps})
        return
    table = Table(title=f"{chain.name}: ok")
    for col in ("step", "kind", "inputs", "outputs"):
        table.add_column(col)
    for s in steps:
        table.add_row(s["name"], s["what"], ", ".join(f"{k}: {v}" for k, v in s["inputs"].items()),
                      ", ".join(f"{k}: {v}" for k, v in s["outputs"].items()))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(chain_app, name="chain")


__all__ = ["chain_app", "register"]
