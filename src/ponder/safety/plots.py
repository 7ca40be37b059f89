"""Figures and report files for the safety evaluations (matplotlib, drawn off-screen).

Each evaluation writes three files with one stem: ``STEM.json`` (the report, plus ``plot``: the
PNG's file name and the numbers drawn, panel by panel), ``STEM.png`` and ``STEM.md`` (a short
Markdown table). ``write_outputs`` returns their paths as ``WrittenReport``, which is what
``--mlflow`` logging (or any caller) needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.errors import BackendUnavailableError


@dataclass(frozen=True)
class Panel:
    """One panel of an interval plot: a label, an estimate and its interval per row."""

    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    reference: float | None = None
    reference_label: str = ""
    xlabel: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "xlabel": self.xlabel,
            "reference": self.reference, "reference_label": self.reference_label,
            "rows": [
                {"label": lab, "value": _clean(v), "low": _clean(lo), "high": _clean(hi)}
                for lab, v, lo, hi in zip(self.labels, self.values, self.lows, self.highs,
                                          strict=True)
            ],
        }


def _clean(x: float) -> float | None:
    return None if x is None or math.isnan(x) else round(float(x), 4)


@dataclass(frozen=True)
class WrittenReport:
    """The files an evaluation wrote."""

    json: Path
    png: Path | None
    markdown: Path

    def to_dict(self) -> dict[str, str | None]:
        return {"json": str(self.json), "png": None if self.png is None else str(self.png),
                "markdown": str(self.markdown)}


def interval_plot(panels: list[Panel], path: Path, *, title: str = "") -> Path:
    """Horizontal point-and-interval panels side by side, one row per label."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise BackendUnavailableError(
            "plots need matplotlib: pip install matplotlib (or --no-plot)"
        ) from e
    rows = max((len(p.labels) for p in panels), default=1)
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.0, 5.2 * len(panels)),
                                                      1.4 + 0.38 * rows),
                             squeeze=False)
    for ax, p in zip(axes[0], panels, strict=True):
        ys = list(range(len(p.labels)))[::-1]
        for y, label, v, lo, hi in zip(ys, p.labels, p.values, p.lows, p.highs, strict=True):
            if v is None or math.isnan(v):
                continue
            color = "#d62728" if label.startswith("Ponder") else "#1f77b4"
            if not (math.isnan(lo) or math.isnan(hi)):
                ax.plot([lo, hi], [y, y], color=color, lw=2.2, solid_capstyle="butt")
            ax.plot([v], [y], "o", color=color, ms=6)
        if p.reference is not None:
            ax.axvline(p.reference, color="grey", ls="--", lw=1)
            if p.reference_label:
                ax.text(p.reference, len(p.labels) - 0.4, " " + p.reference_label,
                        color="grey", fontsize=8, va="bottom")
        ax.set_yticks(ys)
        ax.set_yticklabels(p.labels, fontsize=8)
        ax.set_ylim(-0.7, len(p.labels) - 0.1)
        ax.set_title(p.title, fontsize=10)
        ax.set_xlabel(p.xlabel, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(
    report: Any,
    out_dir: Path,
    stem: str,
    panels: Callable[[Any], list[Panel]],
    *,
    title: str = "",
    plot: bool = True,
    details: bool = True,
) -> WrittenReport:
    """Write ``STEM.json`` (``report.to_dict(details)`` plus the plot's data), ``STEM.png``
    and ``STEM.md`` (``report.markdown()``) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = panels(report)
    png = interval_plot(drawn, out_dir / f"{stem}.png", title=title) if plot else None
    data = report.to_dict(details)
    data["plot"] = {"png": None if png is None else png.name,
                    "panels": [p.to_dict() for p in drawn]}
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md = out_dir / f"{stem}.md"
    md.write_text(report.markdown() + "\n", encoding="utf-8")
    return WrittenReport(js, png, md)


# ------------------------------------------------------------ the three reports' panels


def bias_panels(report: Any) -> list[Panel]:
    """One panel per metric: each group's mean and bootstrap interval."""
    out = []
    for metric, stats in report.groups.items():
        gap = report.gaps.get(metric)
        sub = "" if gap is None else f" (gap {gap.gap:.3f}, p={gap.p_value:.3g})"
        groups = list(stats)
        out.append(Panel(
            title=f"{metric}{' (proxy for regard)' if metric == 'sentiment' else ''}{sub}",
            labels=tuple(f"{g} (n={stats[g].n})" for g in groups),
            values=tuple(stats[g].mean for g in groups),
            lows=tuple(stats[g].ci[0] for g in groups),
            highs=tuple(stats[g].ci[1] for g in groups),
            xlabel="P(pos) - P(neg)" if metric == "sentiment" else "P(toxic)",
        ))
    return out


def stereotype_panels(report: Any) -> list[Panel]:
    """Share preferring the more stereotypical sentence per bias type, 0.5 marked."""
    rows = [*report.per_type, report.overall]
    return [Panel(
        title=f"CrowS-Pairs ({report.scoring} scoring), {report.model}",
        labels=tuple(f"{t.bias_type} (n={t.decided})" for t in rows),
        values=tuple(math.nan if t.share is None else t.share for t in rows),
        lows=tuple(t.ci[0] for t in rows),
        highs=tuple(t.ci[1] for t in rows),
        reference=0.5, reference_label="no preference",
        xlabel="share preferring the more stereotypical sentence, Wilson 95%",
    )]


def faithfulness_panels(report: Any) -> list[Panel]:
    """Partial Pearson with Factuality: the checker and the published metrics; per error type."""
    rows = [(f"Ponder {report.support}: marks", report.checker),
            (f"Ponder {report.support}: score", report.checker_raw), *((b.name, b)
                                                                      for b in report.baselines)]
    main = Panel(
        title=f"FRANK {report.split}: partial correlation with human factuality",
        labels=tuple(n for n, _ in rows),
        values=tuple(c.pearson for _, c in rows),
        lows=tuple(c.pearson_ci[0] for _, c in rows),
        highs=tuple(c.pearson_ci[1] for _, c in rows),
        reference=0.30, reference_label="goal 0.30",
        xlabel="partial Pearson (controlling for the system), bootstrap 95%",
    )
    types = list(report.per_error_type)
    deltas = tuple(
        math.nan if (d := report.per_error_type[t]["flip_delta"]) is None else float(d)
        for t in types
    )
    per_type = Panel(
        title="change when an error type is ignored",
        labels=tuple(types), values=deltas, lows=deltas, highs=deltas,
        reference=0.0, xlabel="negative: the checker detects that error type",
    )
    return [main, per_type]


__all__ = [
    "Panel",
    "WrittenReport",
    "bias_panels",
    "faithfulness_panels",
    "interval_plot",
    "stereotype_panels",
    "write_outputs",
]
