"""``make demo``: the main job on the embedded defaults.

Builds the ``stdlib`` collection from the Python standard library's own documentation (a curated
share of it, ``ponder.ingest.DEMO_MODULES``; a second run finds everything unchanged), then
answers a question over it with cited sources.
"""

from __future__ import annotations

import time

from rich.panel import Panel

from ponder.cli.common import RateColumn, console, progress_bar, setup_logging
from ponder.cli.ingest import _RichProgress, print_report
from ponder.store.collection import Collection

QUESTION = "How do I read a CSV file with a header row?"


def main() -> None:
    setup_logging()
    t0 = time.perf_counter()
    from ponder.ingest import DEMO_MODULES

    console.rule("[bold]Ponder demo")
    console.print(
        f"1. Ingest the documentation of {len(DEMO_MODULES)} standard-library modules "
        "(pydoc on this interpreter) into the collection 'stdlib'"
    )
    with Collection.get_or_create("stdlib") as col, progress_bar(RateColumn()) as bar:
        report = col.ingest_pydoc(list(DEMO_MODULES), progress=_RichProgress(bar))
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


def _ask(col: Collection) -> None:
    from ponder.cli.ask import footer, print_answer_details
    from ponder.rag import ask

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
