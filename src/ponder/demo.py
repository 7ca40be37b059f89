"""``make demo``: the main job on the embedded defaults.

Builds the ``stdlib`` collection from the Python standard library's own documentation (a curated
share of it, ``ponder.ingest.DEMO_MODULES``; a second run finds everything unchanged), then
answers a question over it with cited sources. Each module's page of the official library
reference is used when it is installed (``python3-doc``; ``make demo`` installs it as root, see
``ponder.ingest.pydoc_source.reference_dir``), and pydoc on this interpreter otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.panel import Panel

from ponder.cli.ask import footer, print_answer_details
from ponder.cli.common import RateColumn, console, progress_bar, setup_logging
from ponder.cli.ingest import _RichProgress, print_report
from ponder.ingest import DEMO_MODULES
from ponder.ingest.pipeline import IngestProgress
from ponder.ingest.pydoc_source import reference_pages
from ponder.rag import ask
from ponder.store.collection import Collection
from ponder.types import IngestReport

QUESTION = "How do I read a CSV file with a header row?"


def main() -> None:
    setup_logging()
    t0 = time.perf_counter()

    console.rule("[bold]Ponder demo")
    pages = reference_pages(DEMO_MODULES)
    rest = [m for m in DEMO_MODULES if m not in pages]
    how = (f"the library reference's pages from {next(iter(pages.values())).parent}"
           if pages else "pydoc on this interpreter")
    if pages and rest:
        how += f", pydoc for {len(rest)}"
    console.print(
        f"1. Ingest the documentation of {len(DEMO_MODULES)} standard-library modules "
        f"({how}) into the collection 'stdlib'"
    )
    if not pages:
        console.print("   (for richer text install the reference: apt-get install python3-doc)")
    with Collection.get_or_create("stdlib") as col, progress_bar(RateColumn()) as bar:
        reports = ingest_stdlib(col, DEMO_MODULES, progress=_RichProgress(bar))
    for report in reports:
        print_report(report, "stdlib")
    with Collection.open("stdlib") as col:
        console.print(f"\n2. Search: [bold]{QUESTION}[/]")
        for hit in col.search(QUESTION, k=3):
            c = hit.chunk
            body = " ".join(c.text.split())[:400]
            console.print(
                Panel(body, title=f"#{hit.rank} {c.source} · {c.location} · score {hit.score:.3f}",
                      title_align="left")
            )
        _ask(col)
    console.print(f"\ndemo finished in {time.perf_counter() - t0:.1f}s")


def ingest_stdlib(
    col: Collection, modules: Sequence[str], *, progress: IngestProgress | None = None
) -> list[IngestReport]:
    """Ingest the documentation of ``modules``: each module's library reference page where it
    is installed (``reference_pages``), pydoc otherwise. The pydoc text an earlier run stored
    for a module that now has its reference page is removed, so a module is never in the
    collection twice. Returns the reports of the two ingests (reference, then pydoc)."""
    pages = reference_pages(modules)
    rest = [m for m in modules if m not in pages]
    reports = []
    if pages:
        reports.append(col.ingest(list(pages.values()), progress=progress))
        stale = [d for m in pages for d in col.documents_for_source(f"pydoc:{m}")]
        if stale:
            col.remove_documents(stale)
            reports[-1].removed += len(stale)
    if rest:
        reports.append(col.ingest_pydoc(rest, progress=progress))
    return reports


def _ask(col: Collection) -> None:
    console.print(f"\n3. Ask: [bold]{QUESTION}[/]")
    # the default answer mode, auto: the model's answer when the sources support it, else
    # the sentence of the sources that best answers the question, quoted and cited
    answer = ask(QUESTION, collection=col, stream_to=console)
    console.print()
    print_answer_details(answer, console)
    if line := footer(answer):
        console.print(line, highlight=False)


if __name__ == "__main__":
    main()
