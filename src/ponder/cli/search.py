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
    strategy: str = typer.Option(
        "auto", "--strategy", help="Filtered search: auto (planned), pre, in or post."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Also print the query plan (with --json: {results, plan})."
    ),
) -> None:
    """Search a collection by meaning, optionally filtered by metadata."""
    with Collection.open(collection, home=settings().home) as col:
        hits = col.search(query, k=k, where=where, strategy=strategy, explain=explain)
    plan = getattr(hits, "plan", None)
    if as_json:
        results = [h.to_dict() for h in hits]
        print_json({"results": results, "plan": plan.to_dict()} if plan else results)
        return
    if plan is not None:
        console.print(f"[bold]plan[/]\n{plan}", highlight=False)
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
