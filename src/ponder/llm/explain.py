"""Make decoding visible: the candidates at every step, the token chosen, the beams kept and
dropped, as a terminal table, an HTML tree or a PNG tree.

A ``DecodingTrace`` is filled by the decoder when ``generate(..., explain=True)``:

- greedy and sampling: one ``StepTrace`` per token (top candidates with their model
  probability, and for sampling the probability in the distribution actually sampled from);
- beam search: a tree of ``BeamNode`` (root = the prompt; each step's best ``2 × num_beams``
  extensions, marked ``kept``, ``dropped`` or ``finished``; the winner's path ``best``).

>>> t = DecodingTrace(strategy="greedy")
>>> t.steps.append(StepTrace(0, [Candidate(5, " Paris", 0.9), Candidate(7, " Lyon", 0.05)],
...                          Candidate(5, " Paris", 0.9)))
>>> [n.status for n in t.tree_nodes()]
['root', 'best', 'dropped']
>>> "Paris" in t.to_html()
True
"""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from ponder.errors import ConfigError


@dataclass(frozen=True)
class Candidate:
    """A possible next token: ``prob`` under the model (after the repetition penalty, at
    temperature 1); ``sample_prob`` in the distribution sampled from (``None`` when not
    sampling)."""

    token_id: int
    text: str
    prob: float
    sample_prob: float | None = None


@dataclass(frozen=True)
class StepTrace:
    """One greedy or sampling step."""

    step: int
    candidates: list[Candidate]
    chosen: Candidate


@dataclass
class BeamNode:
    """A node of the search tree: a hypothesis extended by one token.

    ``score`` is the hypothesis's total log-probability; ``status`` is ``root``, ``kept``,
    ``dropped``, ``finished`` (ended by end-of-sequence or a stop string) or ``best``.
    """

    id: int
    parent: int | None
    step: int
    token_id: int | None
    text: str
    logprob: float
    score: float
    status: str


@dataclass
class DecodingTrace:
    """Everything the decoder decided, step by step."""

    strategy: str = "greedy"
    steps: list[StepTrace] = field(default_factory=list)
    beam_nodes: list[BeamNode] = field(default_factory=list)
    top_n: int = 5
    note: str = ""

    # ------------------------------------------------------------------ structure

    def tree_nodes(self) -> list[BeamNode]:
        """The trace as a tree (beam search's own tree; a chain with alternatives otherwise)."""
        if self.beam_nodes:
            return list(self.beam_nodes)
        nodes = [BeamNode(0, None, -1, None, "", 0.0, 0.0, "root")]
        parent, score = 0, 0.0
        for st in self.steps:
            chosen_id = len(nodes)
            lp = _log(st.chosen.prob)
            nodes.append(
                BeamNode(chosen_id, parent, st.step, st.chosen.token_id, st.chosen.text, lp,
                         score + lp, "best")
            )
            for c in st.candidates:
                if c.token_id == st.chosen.token_id:
                    continue
                lpc = _log(c.prob)
                nodes.append(
                    BeamNode(len(nodes), parent, st.step, c.token_id, c.text, lpc, score + lpc,
                             "dropped")
                )
            parent, score = chosen_id, score + lp
        return nodes

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "note": self.note,
            "steps": [asdict(s) for s in self.steps],
            "beam_nodes": [asdict(n) for n in self.beam_nodes],
        }

    # ------------------------------------------------------------------ terminal

    def rich_table(self, max_rows: int = 200) -> Any:
        """A ``rich.table.Table`` of the decoding steps."""

        if self.beam_nodes:
            table = Table(title=f"Beam search ({self.strategy})", show_lines=False)
            for col in ("step", "hypothesis", "+ token", "logprob", "total", "status"):
                table.add_column(col, justify="right" if col in ("logprob", "total") else "left")
            by_id = {n.id: n for n in self.beam_nodes}
            for n in self.beam_nodes[1 : max_rows + 1]:
                style = {"best": "bold green", "kept": "green", "finished": "cyan"}.get(
                    n.status, "dim"
                )
                prefix = _path_text(by_id, n.parent)
                table.add_row(
                    str(n.step), _show(prefix[-40:]), _show(n.text), f"{n.logprob:.3f}",
                    f"{n.score:.3f}", n.status, style=style,
                )
            return table
        table = Table(title=f"Decoding ({self.strategy})")
        table.add_column("step", justify="right")
        table.add_column("chosen")
        table.add_column("p", justify="right")
        table.add_column(f"top {self.top_n} candidates (p)")
        for st in self.steps[:max_rows]:
            alts = "  ".join(
                f"{_show(c.text)} {c.prob:.2f}"
                + (f"/{c.sample_prob:.2f}" if c.sample_prob is not None else "")
                for c in st.candidates
            )
            table.add_row(str(st.step), _show(st.chosen.text), f"{st.chosen.prob:.3f}", alts)
        if self.strategy == "sample":
            table.caption = "p = model probability / probability after temperature, top-k, top-p"
        return table

    # ------------------------------------------------------------------ files

    def to_html(self) -> str:
        """A self-contained HTML page with the search tree (hover a node for its numbers)."""
        nodes = self.tree_nodes()
        children: dict[int | None, list[BeamNode]] = {}
        for n in nodes:
            children.setdefault(n.parent, []).append(n)

        def render(n: BeamNode) -> str:
            label = "prompt" if n.status == "root" else _show(n.text)
            tip = f"token {n.token_id} · logprob {n.logprob:.3f} · total {n.score:.3f}"
            kids = children.get(n.id, [])
            kids_html = "".join(render(k) for k in kids)
            sub = f"<ul>{kids_html}</ul>" if kids else ""
            return (
                f'<li><span class="n {n.status}" title="{html.escape(tip)}">'
                f"{html.escape(label)} <small>{_prob(n.logprob)}</small></span>{sub}</li>"
            )

        roots = children.get(None, [])
        body = "".join(render(r) for r in roots)
        note = f"<p>{html.escape(self.note)}</p>" if self.note else ""
        return _HTML.format(strategy=html.escape(self.strategy), note=note, body=body)

    def save(self, path: str | Path) -> Path:
        """Write the tree to ``path``: ``.html`` (always available) or ``.png`` (matplotlib)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix in (".html", ".htm"):
            p.write_text(self.to_html(), encoding="utf-8")
        elif suffix == ".png":
            self._save_png(p)
        else:
            raise ConfigError(f"{path}: explain output must end in .html or .png")
        return p

    def _save_png(self, path: Path, max_steps: int = 40) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - matplotlib is a dependency
            raise ConfigError("PNG output needs matplotlib: pip install matplotlib") from e
        nodes = [n for n in self.tree_nodes() if n.step < max_steps]
        children: dict[int | None, list[BeamNode]] = {}
        for n in nodes:
            children.setdefault(n.parent, []).append(n)
        ypos: dict[int, float] = {}
        counter = [0.0]

        def place(n: BeamNode) -> float:
            kids = children.get(n.id, [])
            if not kids:
                ypos[n.id] = counter[0]
                counter[0] += 1
            else:
                ys = [place(k) for k in kids]
                ypos[n.id] = sum(ys) / len(ys)
            return ypos[n.id]

        for r in children.get(None, []):
            place(r)
        colors = {"best": "#d9480f", "kept": "#2b8a3e", "finished": "#1971c2", "root": "#000"}
        steps = max((n.step for n in nodes), default=0) + 2
        fig, ax = plt.subplots(figsize=(min(2 + 1.4 * steps, 60), min(1 + 0.28 * counter[0], 60)))
        by_id = {n.id: n for n in nodes}
        for n in nodes:
            if n.parent is not None and n.parent in by_id:
                par = by_id[n.parent]
                ax.plot([par.step, n.step], [ypos[par.id], ypos[n.id]], color="#ccc", lw=0.8,
                        zorder=1)
        for n in nodes:
            label = "prompt" if n.status == "root" else _show(n.text)[:14]
            ax.text(n.step, ypos[n.id], label, fontsize=7, ha="center", va="center",
                    color=colors.get(n.status, "#999"),
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "#ddd", "lw": 0.5},
                    zorder=2)
        ax.set_xlim(-1.5, steps)
        ax.set_ylim(-1, max(counter[0], 1))
        ax.invert_yaxis()
        ax.set_xlabel("step")
        ax.set_yticks([])
        ax.set_title(f"decoding tree ({self.strategy}): orange = chosen, green = kept, "
                     "blue = finished, grey = dropped", fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def _log(p: float) -> float:
    return math.log(p) if p > 0 else float("-inf")


def _prob(logprob: float) -> str:
    return "" if logprob == 0.0 else f"p={math.exp(logprob):.2f}"


def _show(text: str) -> str:
    """Make whitespace visible in token texts."""
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def _path_text(by_id: dict[int, BeamNode], node_id: int | None) -> str:
    parts: list[str] = []
    while node_id is not None and node_id in by_id:
        n = by_id[node_id]
        parts.append(n.text)
        node_id = n.parent
    return "".join(reversed(parts))


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Ponder decoding tree</title>
<style>
body {{ font-family: system-ui, sans-serif; font-size: 14px; }}
ul {{ list-style: none; margin: 0; padding-left: 1.4em; border-left: 1px solid #ccc; }}
li {{ margin: 2px 0; }}
.n {{ font-family: ui-monospace, monospace; padding: 1px 4px; border-radius: 4px; }}
.root {{ font-weight: bold; }}
.best {{ background: #ffe8cc; color: #d9480f; font-weight: bold; }}
.kept {{ background: #ebfbee; color: #2b8a3e; }}
.finished {{ background: #e7f5ff; color: #1971c2; }}
.dropped {{ color: #999; }}
small {{ color: #666; }}
</style></head><body>
<h2>Decoding tree: {strategy}</h2>
<p><span class="n best">chosen / best</span> <span class="n kept">kept beam</span>
<span class="n finished">finished</span> <span class="n dropped">dropped</span>
(␣ = space, ↵ = newline; hover a token for its log-probabilities)</p>
{note}
<ul style="border:none">{body}</ul>
</body></html>
"""

__all__ = ["BeamNode", "Candidate", "DecodingTrace", "StepTrace"]
