"""``ponder ingest``: files, folders or the stdlib docs into a collection."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import TaskID
from rich.table import Table

from ponder.cli.common import (
    RateColumn,
    console,
    console_err,
    print_json,
    progress_bar,
    settings,
)
from ponder.errors import InputError
from ponder.ingest import DEMO_MODULES
from ponder.ingest.pipeline import IngestProgress
from ponder.store.collection import Collection
from ponder.types import IngestReport


class _RichProgress(IngestProgress):
    def __init__(self, progress) -> None:  # type: ignore[no-untyped-def]
        self.p = progress
        self.files: TaskID = progress.add_task("files", total=None)
        self.chunks: TaskID = progress.add_task("chunks embedded", total=0)

    def files_total(self, n: int) -> None:
        self.p.update(self.files, total=n)

    def file_done(self, source: str) -> None:
        self.p.advance(self.files)

    def chunks_found(self, n: int) -> None:
        task = self.p.tasks[self.chunks]
        self.p.update(self.chunks, total=(task.total or 0) + n)

    def chunks_done(self, n: int) -> None:
        self.p.advance(self.chunks, n)


def print_report(report: IngestReport, name: str) -> None:
    t = Table(title=f"ingest into {name!r}", show_header=False, box=None)
    t.add_row("added", str(report.added))
    t.add_row("updated", str(report.updated))
    t.add_row("unchanged", str(report.unchanged))
    t.add_row("removed", str(report.removed))
    t.add_row("chunks written", str(report.chunks))
    t.add_row("chunks embedded", str(report.chunks_embedded))
    t.add_row("time", f"{report.seconds:.1f}s ({report.chunks_per_second:.1f} chunks/s)")
    t.add_row("skipped", str(len(report.skipped)))
    console_err.print(t)
    for source, reason in report.skipped:
        console_err.print(f"  [yellow]skipped[/] {source}: {reason}", highlight=False)


def ingest(
    paths: list[Path] = typer.Argument(None, help="Files and folders (folders recursively)."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection (created if new)."),
    include: list[str] = typer.Option([], "--include", help="Glob of files to take, repeatable."),
    exclude: list[str] = typer.Option([], "--exclude", help="Glob of files to leave, repeatable."),
    text_field: str | None = typer.Option(None, "--text-field", help="CSV/JSONL text column."),
    sync: bool = typer.Option(False, "--sync", help="Remove documents whose file is gone."),
    pydoc: bool = typer.Option(False, "--pydoc", help="Ingest the Python stdlib documentation."),
    modules: str | None = typer.Option(
        None, "--modules", help="With --pydoc: comma-separated modules, or 'demo' (default: all)."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedding backend by name."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Ingest documents (.txt .md .html .pdf .csv .jsonl) into a collection."""
    if not paths and not pydoc:
        raise InputError("give files or folders to ingest, or --pydoc for the stdlib docs")
    home = settings().home
    col = Collection.get_or_create(collection, home=home, embedder=embedder)
    with col, progress_bar(RateColumn()) as bar:
        prog = _RichProgress(bar)
        if pydoc:
            mods = None
            if modules == "demo":
                mods = list(DEMO_MODULES)
            elif modules:
                mods = [m.strip() for m in modules.split(",") if m.strip()]
            report = col.ingest_pydoc(mods, progress=prog)
        else:
            report = col.ingest(
                [str(p) for p in paths],
                include=include,
                exclude=exclude,
                text_field=text_field,
                sync=sync,
                progress=prog,
            )
        total = col.count()
    if as_json:
        print_json({**report.__dict__, "chunks_per_second": report.chunks_per_second})
    else:
        print_report(report, collection)
        console.print(f"collection {collection!r}: {total} chunks")


def register(app: typer.Typer) -> None:
    app.command()(ingest)
