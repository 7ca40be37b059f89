"""``ponder collections list|info|migrate|drop``."""

from __future__ import annotations

import datetime as dt

import typer
from rich.progress import Progress, TaskID
from rich.table import Table

from ponder.cli.common import RateColumn, console, console_err, print_json, progress_bar, settings
from ponder.store.collection import Collection
from ponder.store.migrate import (
    BATCH,
    MigrationProgress,
    abort_migration,
    migrate_collection,
    migration_status,
)

collections_app = typer.Typer(
    help="List, inspect, migrate and drop collections.", no_args_is_help=True
)


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


class _BarProgress(MigrationProgress):
    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task: TaskID | None = None

    def started(self, done: int, total: int) -> None:  # the target is checked: show the bar
        self.task = self.bar.add_task("chunks re-embedded", total=total, completed=done)

    def batch_done(self, n: int, done: int, total: int) -> None:
        if self.task is not None:
            self.bar.update(self.task, completed=done, total=total)


@collections_app.command()
def migrate(
    name: str = typer.Argument(..., help="Collection name."),
    embedder: str | None = typer.Option(
        None, "--embedder", help="The new embedder: a name (minilm, hash) or a fine-tuned folder."
    ),
    batch_size: int = typer.Option(BATCH, "--batch-size", help="Chunks per committed batch."),
    status: bool = typer.Option(False, "--status", help="Show an unfinished migration."),
    abort: bool = typer.Option(False, "--abort", help="Drop an unfinished migration."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-embed a collection with another embedder while searches keep working; switch when
    done. Interrupted (even by kill -9)? Run the same command again: it resumes."""
    home = settings().home
    if status or abort:
        if abort:
            dropped = abort_migration(name, home=home)
            data = {"collection": name, "aborted": dropped}
            msg = f"dropped the unfinished migration of {name!r}" if dropped else "no migration"
        else:
            state = migration_status(name, home=home)
            data = state.to_dict() if state else {"collection": name, "migration": None}
            msg = (
                f"{name!r}: {state.from_model} -> {state.to_model} (--embedder "
                f"{state.embedder}), {state.done}/{state.total} chunks re-embedded, started "
                f"{dt.datetime.fromtimestamp(state.started_at):%Y-%m-%d %H:%M}"
                if state
                else f"{name!r}: no migration in progress"
            )
        if as_json:
            print_json(data)
        else:
            console.print(msg, highlight=False)
        return
    if not embedder:
        raise typer.BadParameter("give --embedder NEW (or --status / --abort)")
    with progress_bar(RateColumn()) as bar:
        report = migrate_collection(
            name, embedder, home=home, batch_size=batch_size, progress=_BarProgress(bar)
        )
    if as_json:
        print_json(report.to_dict())
        return
    resumed = f" (resumed: {report.resumed_from} were done before)" if report.resumed_from else ""
    console_err.print(
        f"re-embedded {report.embedded} chunks in {report.seconds:.1f}s{resumed}", highlight=False
    )
    console.print(
        f"collection {name!r} switched from {report.from_model} to {report.to_model} "
        f"({report.dim} dimensions, {report.chunks} chunks); the old vectors are dropped",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")
