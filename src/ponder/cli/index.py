"""``ponder index``: build, show and advise the vector index of a collection.

    ponder index build --collection docs --type hnsw --m 32 --ef-search 64
    ponder index build --collection docs --type ivf-pq --nlist 256 --m 48 --rerank 8
    ponder index show --collection docs
    ponder index advise --collection docs --recall 0.95 --plot advice.png --apply
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import console, console_err, print_json, settings
from ponder.store.collection import Collection
from ponder.store.indexes import INDEX_TYPES, supported_pairs

index_app = typer.Typer(
    help="Build, inspect and choose the vector index of a collection.", no_args_is_help=True
)
_TYPES = ", ".join(INDEX_TYPES)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


@index_app.command("build")
def build(
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to index."),
    kind: str | None = typer.Option(
        None, "--type", "-t", help=f"Index type: {_TYPES} (default: keep the current one)."
    ),
    metric: str | None = typer.Option(
        None, "--metric", help=f"cosine, dot, l2 or l1 where FAISS has it: {supported_pairs()}"
    ),
    m: int | None = typer.Option(None, "--m", help="hnsw: graph degree M; pq: sub-quantizers."),
    ef_construction: int | None = typer.Option(None, "--ef-construction", help="hnsw build."),
    ef_search: int | None = typer.Option(None, "--ef-search", help="hnsw search beam width."),
    nlist: int | None = typer.Option(None, "--nlist", help="ivf/ivf-pq: number of cells."),
    nprobe: int | None = typer.Option(None, "--nprobe", help="ivf/ivf-pq: cells per search."),
    nbits: int | None = typer.Option(None, "--nbits", help="pq/ivf-pq: bits per code."),
    rerank: int | None = typer.Option(
        None, "--rerank", help="pq/ivf-pq: re-score k*R candidates exactly (0: off)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """(Re)build the index from the catalog, with a new type, metric or parameters."""
    given = {
        "m": m,
        "ef_construction": ef_construction,
        "ef_search": ef_search,
        "nlist": nlist,
        "nprobe": nprobe,
        "nbits": nbits,
        "rerank": rerank,
    }
    params = {k: v for k, v in given.items() if v is not None}
    with Collection.open(collection, home=settings().home) as col:
        summary = col.build_index(kind, metric=metric, **params)
    if as_json:
        print_json(summary)
        return
    console.print(
        f"built [bold]{summary['index']}[/] ({summary['metric']}) over {summary['vectors']} "
        f"vectors in {summary['seconds']:.2f}s, ~{_mb(summary['memory_bytes'])}; "
        f"settings {summary['settings']}"
    )
    if summary["notice"]:
        console_err.print(f"[yellow]notice:[/] {summary['notice']}")


@index_app.command("show")
def show(
    collection: str = typer.Option(..., "--collection", "-c", help="Collection."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The collection's index: type, metric, parameters, size, state."""
    with Collection.open(collection, home=settings().home) as col:
        index = col.index_state.get()
        info: dict[str, Any] = {
            **index.describe(),
            "vectors": len(index),
            "memory_bytes": index.memory_bytes(),
            "tombstones": index.tombstones(),
            "notice": index.fallback_reason,
        }
    if as_json:
        print_json(info)
        return
    for key, value in info.items():
        console.print(f"[bold]{key:>13}[/]  {value}")


@index_app.command("advise")
def advise(
    collection: str = typer.Option(..., "--collection", "-c", help="Collection."),
    recall: float = typer.Option(0.95, "--recall", help="Recall@k target against exact."),
    k: int = typer.Option(10, "-k", "--k", help="k of recall@k."),
    queries: int = typer.Option(100, "--queries", help="Sampled queries (stored vectors)."),
    max_vectors: int = typer.Option(
        200_000, "--max-vectors", help="Measure on a random sample when larger."
    ),
    plot_path: Path | None = typer.Option(
        None, "--plot", help="Recall-vs-latency PNG (default: advice-NAME.png)."
    ),
    show_all: bool = typer.Option(False, "--all", help="List every configuration measured."),
    apply: bool = typer.Option(False, "--apply", help="Build the picked index."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Measure candidate indexes on the collection's own vectors and pick one."""
    from ponder.store.advisor import advise as run_advice
    from ponder.store.advisor import plot

    with Collection.open(collection, home=settings().home) as col:
        with console_err.status("measuring candidate indexes...") as status:
            advice = run_advice(
                col,
                recall=recall,
                k=k,
                queries=queries,
                max_vectors=max_vectors,
                progress=lambda msg: status.update(msg),
            )
        png = plot(advice, plot_path or Path(f"advice-{collection}.png"), title=collection)
        built = col.build_index(advice.pick.kind, **advice.pick.params) if apply else None
    if as_json:
        print_json({**advice.to_dict(), "plot": str(png), "applied": built})
        return
    rows = advice.measurements if show_all else advice.pareto()
    scope = "all" if show_all else "Pareto"
    table = Table(
        title=f"{scope} configurations, recall@{k} target {recall} "
        f"({advice.vectors} vectors, {advice.queries} queries)"
    )
    for col_name in ("index", f"recall@{k}", "p50 ms", "memory", "build s", ""):
        table.add_column(col_name, justify="left" if col_name == "index" else "right")
    for ms in sorted(rows, key=lambda r: r.p50_ms):
        mark = "[bold green]pick[/]" if ms is advice.pick else ("pareto" if ms.pareto else "")
        table.add_row(
            ms.label,
            f"{ms.recall:.3f}",
            f"{ms.p50_ms:.3f}",
            _mb(ms.memory_bytes),
            f"{ms.build_s:.2f}",
            mark,
        )
    console.print(table)
    for note in advice.notes:
        console_err.print(f"[yellow]notice:[/] {note}")
    console.print(f"pick: [bold]{advice.pick.label}[/]; plot: {png}")
    if built:
        console.print(f"applied: built {built['index']} in {built['seconds']:.2f}s")
    else:
        params = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in advice.pick.params.items())
        console.print(
            f"apply with: ponder index build --collection {collection} "
            f"--type {advice.pick.kind} {params}".rstrip()
        )


def register(app: typer.Typer) -> None:
    app.add_typer(index_app, name="index")
