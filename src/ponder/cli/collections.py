"""``ponder collections list|info|drop``."""

from __future__ import annotations

import typer
from rich.table import Table

from ponder.cli.common import console, print_json, settings
from ponder.store.collection import Collection

collections_app = typer.Typer(help="List, inspect and drop collections.", no_args_is_help=True)


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


@collections_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the collections under PONDER_HOME."""
    home = settings().home
    infos = []
    for name in Collection.list(home):
        with Collection.open(name, home=home, embedder=False) as col:
            infos.append(col.info())
    if as_json:
        print_json(infos)
        return
    if not infos:
        console.print(f"no collections in {home}; create one with `ponder ingest PATH -c NAME`")
        return
    t = Table()
    for col_name in ("name", "documents", "chunks", "model", "index", "size"):
        t.add_column(col_name)
    for i in infos:
        t.add_row(
            i["name"],
            str(i["documents"]),
            str(i["chunks"]),
            i["model"],
            i["index"],
            _human(i["size_bytes"]),
        )
    console.print(t)


@collections_app.command()
def info(
    name: str = typer.Argument(..., help="Collection name."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Counts, model, dimension, index and size on disk of a collection."""
    with Collection.open(name, home=settings().home, embedder=False) as col:
        data = col.info()
    if as_json:
        print_json(data)
        return
    t = Table(show_header=False, box=None)
    for key, value in data.items():
        t.add_row(key, _human(value) if key == "size_bytes" else str(value))
    console.print(t)


@collections_app.command()
def drop(
    name: str = typer.Argument(..., help="Collection name."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a collection and its files."""
    home = settings().home
    if name not in Collection.list(home=home):
        Collection.drop(name, home=home)  # raises CollectionNotFoundError, naming the folder
    if not yes and not typer.confirm(f"drop collection {name!r} and all its files?"):
        raise typer.Exit(1)
    Collection.drop(name, home=home)
    console.print(f"dropped {name!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")
