"""A 2D map of a collection's embeddings: PCA by default (UMAP when ``umap-learn`` is
installed and asked for, or with ``method="auto"``), coloured by a metadata field; the classic
embedding picture, for real collections. ``ponder map`` writes it as a self-contained HTML page
(hover shows the chunk) or a PNG; the web page draws the same points.

>>> import numpy as np
>>> xy, explained = pca_2d(np.array([[0, 0, 1], [0, 0, 2], [1, 0, 3.0]]))
>>> xy.shape, round(sum(explained), 3)
((3, 2), 1.0)
"""

from __future__ import annotations

import html
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import ConfigError

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
OTHER = "(other)"
NONE = "(none)"


@dataclass(frozen=True)
class MapPoint:
    id: str
    x: float
    y: float
    label: str
    text: str
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "x": self.x, "y": self.y, "label": self.label,
                "text": self.text, "source": self.source}


@dataclass(frozen=True)
class CollectionMap:
    collection: str
    method: str
    color_by: str | None
    explained: list[float]
    total: int
    points: list[MapPoint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"collection": self.collection, "method": self.method,
                "color_by": self.color_by, "explained": list(self.explained),
                "total": self.total, "points": [p.to_dict() for p in self.points]}

    def colors(self) -> dict[str, str]:
        """Label -> colour: the 9 commonest labels get their own, the rest share grey."""
        counts: dict[str, int] = {}
        for p in self.points:
            counts[p.label] = counts.get(p.label, 0) + 1
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        return {lab: PALETTE[i] if i < 9 else PALETTE[7] for i, lab in enumerate(ranked)}


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Project rows of ``x`` on their two main axes; also the share of variance each keeps."""
    x = np.asarray(x, dtype=np.float64)
    centered = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2)), [0.0, 0.0]
    _, s, vt = np.linalg.svd(centered, full_matrices=False)
    comps = vt[:2]
    xy = centered @ comps.T
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(x), 2 - xy.shape[1]))])
    var = s**2
    total = float(var.sum()) or 1.0
    explained = [float(v / total) for v in var[:2]] + [0.0] * max(0, 2 - len(var))
    return xy, explained


def _label(chunk: Any, color_by: str | None) -> str:
    if not color_by:
        return Path(chunk.source).name if chunk.source else NONE
    if color_by == "source":
        return Path(chunk.source).name if chunk.source else NONE
    value = chunk.metadata.get(color_by)
    if value is None:
        return NONE
    return value if isinstance(value, str) else json.dumps(value)


def collection_map(col: Any, *, color_by: str | None = None, sample: int = 2000,
                   method: str = "auto", seed: int = 0) -> CollectionMap:
    """Map up to ``sample`` chunks of ``col`` (a random sample, fixed by ``seed``)."""
    if method not in ("auto", "pca", "umap"):
        raise ConfigError(f"map method {method!r}: use auto, pca or umap")
    if sample < 2:
        raise ConfigError(f"--sample {sample}: map at least 2 points")
    pks = np.asarray(col.catalog.all_pks(), dtype=np.int64)
    total = len(pks)
    if total > sample:
        pks = np.sort(np.random.default_rng(seed).choice(pks, size=sample, replace=False))
    vecs = col.catalog.vectors_by_pk([int(p) for p in pks])
    chunks = col.catalog.chunks_by_pk([int(p) for p in pks])
    keep = [int(p) for p in pks if int(p) in vecs and int(p) in chunks]
    if not keep:
        return CollectionMap(col.name, "pca", color_by, [0.0, 0.0], total, [])
    x = np.vstack([vecs[p] for p in keep])
    has_umap = importlib.util.find_spec("umap") is not None
    if method == "umap" and not has_umap:
        raise ConfigError("UMAP needs the umap-learn package: pip install umap-learn, or use "
                          "--method pca")
    used = "umap" if has_umap and method in ("umap", "auto") and len(keep) >= 15 else "pca"
    if used == "umap":
        import umap

        xy = umap.UMAP(n_components=2, random_state=seed, metric="cosine").fit_transform(x)
        explained = [0.0, 0.0]
    else:
        xy, explained = pca_2d(x)
    points = [
        MapPoint(chunks[p].id, round(float(xy[i, 0]), 5), round(float(xy[i, 1]), 5),
                 _label(chunks[p], color_by), chunks[p].text[:400], chunks[p].source)
        for i, p in enumerate(keep)
    ]
    return CollectionMap(col.name, used, color_by, [round(e, 4) for e in explained], total,
                         points)


def to_html(m: CollectionMap) -> str:
    """A self-contained page (inline SVG, a few lines of JS): hover or focus a point to read
    its chunk."""
    colors = m.colors()
    xs = [p.x for p in m.points] or [0.0]
    ys = [p.y for p in m.points] or [0.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    w, h, pad = 800, 560, 20

    def sx(v: float) -> float:
        return pad + (v - x0) / ((x1 - x0) or 1) * (w - 2 * pad)

    def sy(v: float) -> float:
        return h - pad - (v - y0) / ((y1 - y0) or 1) * (h - 2 * pad)

    dots = "\n".join(
        f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="4" fill="{colors[p.label]}" '
        f'tabindex="0" data-i="{i}"><title>{html.escape(p.label)}</title></circle>'
        for i, p in enumerate(m.points)
    )
    legend = "".join(
        f'<li><span style="background:{c}"></span>{html.escape(lab)}</li>'
        for lab, c in list(colors.items())[:10]
    )
    data = json.dumps([{"id": p.id, "label": p.label, "source": p.source, "text": p.text}
                       for p in m.points]).replace("</", "<\\/")
    title = f"{m.collection}: {len(m.points)} of {m.total} chunks, {m.method.upper()}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:60rem}}
svg{{width:100%;height:auto;border:1px solid #ccc}}circle:focus{{stroke:#000;stroke-width:2}}
#legend{{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}}
#legend span{{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem}}
#chunk{{white-space:pre-wrap;background:#f6f6f6;padding:.6rem;min-height:3rem}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>Coloured by {html.escape(m.color_by or "source")}. Hover or tab to a point to read it.</p>
<ul id="legend">{legend}</ul>
<svg viewBox="0 0 {w} {h}" role="img" aria-label="embedding map">{dots}</svg>
<div id="chunk" aria-live="polite"></div>
<script>const P={data};const out=document.getElementById("chunk");
function show(e){{const i=e.target.dataset.i;if(i===undefined)return;const p=P[i];
out.textContent=p.label+" | "+(p.source||p.id)+"\\n\\n"+p.text;}}
document.querySelector("svg").addEventListener("mouseover",show);
document.querySelector("svg").addEventListener("focusin",show);</script>
</body></html>
"""


def to_png(m: CollectionMap, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = m.colors()
    fig, ax = plt.subplots(figsize=(8, 6), dpi=110)
    for lab, c in list(colors.items())[:10]:
        pts = [p for p in m.points if p.label == lab]
        ax.scatter([p.x for p in pts], [p.y for p in pts], s=12, c=c, label=lab[:30])
    rest = [p for p in m.points if p.label not in list(colors)[:10]]
    if rest:
        ax.scatter([p.x for p in rest], [p.y for p in rest], s=8, c="#bbbbbb", label=OTHER)
    ax.set_title(f"{m.collection}: {len(m.points)} of {m.total} chunks ({m.method.upper()})")
    if m.points:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(str(path))
    plt.close(fig)


__all__ = ["CollectionMap", "MapPoint", "collection_map", "pca_2d", "to_html", "to_png"]
