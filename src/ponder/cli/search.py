"""``ponder search``: ranked chunks for a query."""

from __future__ import annotations

import typer
from rich.table import Table

from ponder.cli.common import console, print_json, settings
from ponder.store.collection import Collection


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def search(
    query: str = typer.Argument(..., help="What to look for."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to search."),
    k: int = typer.Option(5, "-k", "--k", help="How many results."),
    where: str | None = typer.Option(None, "--where", help="Metadata filter, JSON: '{\"a\": 1}'"),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of results."),
) -> None:
    """Search a collection by meaning, optionally filtered by metadata."""
    with Collection.open(collection, home=settings().home) as col:
        hits = col.search(query, k=k, where=where)
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    if not hits:
        console.print("no results" + (" match the filter" if where else ""))
        return
    table = Table(show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("source / location", overflow="fold", max_width=40)
    table.add_column("text")
    for h in hits:
        c = h.chunk
        table.add_row(
            str(h.rank),
            f"{h.score:.3f}",
            f"{c.source or c.doc_id}\n[dim]{c.location}[/]",
            _snippet(c.text),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(search)
