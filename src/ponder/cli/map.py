"""``ponder map``: a 2D map of a collection's embeddings, as an HTML page (hover shows the
chunk) or a PNG."""

from __future__ import annotations

from pathlib import Path

import typer

from ponder.cli.common import console, settings
from ponder.errors import ConfigError


def map_(
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to map."),
    out: Path = typer.Option(..., "--out", "-o", help="map.html or map.png."),
    color_by: str | None = typer.Option(
        None, "--color-by", help="Metadata field to colour by (default: the source file)."),
    sample: int = typer.Option(2000, "--sample", help="Most points (a fixed random sample)."),
    method: str = typer.Option("auto", "--method", help="auto (UMAP if installed) | pca | umap."),
) -> None:
    """Project the collection's embeddings to 2D (PCA; UMAP when umap-learn is installed)."""
    from ponder.server.map import collection_map, to_html, to_png
    from ponder.store.collection import Collection

    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".png"):
        raise ConfigError(f"--out {out}: give a .html or .png file name")
    with Collection.open(collection, home=settings().home, embedder=False) as col:
        m = collection_map(col, color_by=color_by, sample=sample, method=method)
    if not m.points:
        raise ConfigError(f"collection {collection!r} has no vectors to map: ingest documents "
                          "first")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        to_png(m, out)
    else:
        out.write_text(to_html(m), encoding="utf-8")
    labels = len({p.label for p in m.points})
    console.print(f"wrote {out}: {len(m.points)} of {m.total} chunks, {m.method.upper()}, "
                  f"{labels} colour(s) by {color_by or 'source'}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command(name="map")(map_)
