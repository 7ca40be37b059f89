"""``ponder eval toxicity``: the toxicity scorers on TweetEval offensive or hate test.

Systems, all on the same test tweets: the majority class (a constant predictor), the default
classifier head (``ponder.safety.toxic``; with its expected calibration error), optionally
the LLM yes/no scorer on the first ``llm_n`` tweets (the head and majority scored again on
those), and the published TweetEval baselines (not re-run: figures from the paper). The
metric is TweetEval's official one for both tasks: macro-averaged F1 over the two classes.

``write_outputs`` saves the result as JSON, a short Markdown table and a PNG bar chart.

>>> print(to_markdown({"task": "offensive", "n": 2, "data": "d", "systems": [
...     {"system": "head", "macro_f1": 0.7, "accuracy": 0.8, "f1_toxic": 0.6, "seconds": 1}]}))
### toxicity: TweetEval offensive test (n=2)
<BLANKLINE>
| system | macro_f1 | accuracy | f1_toxic | ece | seconds |
|---|---|---|---|---|---|
| head | 0.7 | 0.8 | 0.6 |  | 1 |
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import ConfigError
from ponder.evaluate.tasks_eval import load_tweeteval
from ponder.evaluate.text_metrics import accuracy, macro_f1
from ponder.safety.toxic import ToxicityScorer
from ponder.tasks.head import ece

TASKS = ("offensive", "hate")
POSITIVE = {"offensive": "offensive", "hate": "hate"}
SOURCE = (
    "Barbieri, Camacho-Collados, Espinosa-Anke, Neves (2020), TweetEval: Unified Benchmark and "
    "Comparative Evaluation for Tweet Classification, Findings of EMNLP 2020: test macro-F1 "
    "of its baselines, as listed in the TweetEval README leaderboard "
    "(../shared/datasets/tweeteval/UPSTREAM_README.md)"
)
# Test macro-F1 (%) reported in the paper; not re-run here.
PUBLISHED = {
    "offensive": {"SVM": 52.3, "LSTM": 71.7, "FastText": 73.4, "RoBERTa-Base": 79.5,
                  "RoBERTa-Twitter": 77.1, "RoBERTa-Retrained": 80.5},
    "hate": {"SVM": 36.7, "LSTM": 52.6, "FastText": 50.6, "RoBERTa-Base": 46.6,
             "RoBERTa-Twitter": 49.9, "RoBERTa-Retrained": 52.3},
}
COLUMNS = ("macro_f1", "accuracy", "f1_toxic", "ece", "seconds")
Progress = Callable[[int], None] | None


def _row(name: str, gold: list[str], pred: list[str], labels: list[str], positive: str,
         seconds: float) -> dict[str, Any]:
    tp = sum(g == positive and p == positive for g, p in zip(gold, pred, strict=True))
    fp = sum(g != positive and p == positive for g, p in zip(gold, pred, strict=True))
    fn = sum(g == positive and p != positive for g, p in zip(gold, pred, strict=True))
    f1_pos = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {
        "system": name,
        "n": len(gold),
        "macro_f1": round(macro_f1(gold, pred, labels), 4),
        "accuracy": round(accuracy(gold, pred), 4),
        "f1_toxic": round(f1_pos, 4),
        "predicted": dict(Counter(pred)),
        "seconds": seconds,
    }


def eval_toxicity(
    task: str = "offensive",
    *,
    tweeteval: Path | None = None,
    method: str = "head",
    llm_n: int = 0,
    model: Any = None,
    embedder: Any = None,
    threshold: float = 0.5,
    limit: int | None = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """Macro-F1 of the toxicity scorer on the whole ``task`` test split (or its first
    ``limit`` tweets) (``method="head"``),
    plus the LLM on the first ``llm_n`` tweets when ``llm_n > 0`` (or ``method="llm"``: the
    LLM on the first ``llm_n``, default 200, and the head on the same tweets)."""

    if task not in TASKS:
        raise ConfigError(f"--task {task!r}: use offensive or hate")
    if method not in ("head", "llm"):
        raise ConfigError(f"--method {method!r}: use head (default) or llm")
    texts, gold = load_tweeteval(None, 0, split="test", task=task, folder=tweeteval)
    if limit is not None:
        texts, gold = texts[:limit], gold[:limit]
    if method == "llm":
        llm_n = llm_n or 200
        texts, gold = texts[:llm_n], gold[:llm_n]
    labels = sorted(set(gold))
    positive = POSITIVE[task]
    negative = next(lab for lab in labels if lab != positive)
    majority = Counter(gold).most_common(1)[0][0]
    systems = [_row(f"majority class ({majority})", gold, [majority] * len(gold), labels,
                    positive, 0.0)]
    head = ToxicityScorer(head=task, embedder=embedder, threshold=threshold)
    t0 = time.perf_counter()
    scores = np.array(head.scores(texts))
    secs = round(time.perf_counter() - t0, 2)
    if progress:
        progress(len(texts))
    hpred = [positive if s >= threshold else negative for s in scores]
    row = _row("head (default)", gold, hpred, labels, positive, secs)
    conf = np.where(scores >= threshold, scores, 1 - scores)
    row["ece"] = round(ece(conf, [p == g for p, g in zip(hpred, gold, strict=True)]), 4)
    row["detail"] = head.detail
    systems.append(row)
    k = min(llm_n, len(texts))
    model_id = None
    if k:
        llm = ToxicityScorer(method="llm", model=model, threshold=threshold)
        t0 = time.perf_counter()
        lscores = []
        for t in texts[:k]:
            lscores.append(llm.scores([t])[0])
            if progress:
                progress(1)
        secs = round(time.perf_counter() - t0, 2)
        model_id = llm.model_id
        sub = gold[:k]
        if k < len(texts):
            systems.append(_row(f"majority class ({majority}), first {k}", sub,
                                [majority] * k, labels, positive, 0.0))
            systems.append(_row(f"head (default), first {k}", sub, hpred[:k], labels,
                                positive, 0.0))
        lpred = [positive if s >= threshold else negative for s in lscores]
        name = "llm (yes/no)" + (f", first {k}" if k < len(texts) else "")
        systems.append(_row(name, sub, lpred, labels, positive, secs))
    published = [
        {"system": f"{name} (published)", "macro_f1": round(v / 100, 3), "published": True}
        for name, v in PUBLISHED[task].items()
    ]
    return {
        "task": task,
        "data": f"TweetEval {task} test",
        "n": len(texts),
        "gold": dict(Counter(gold)),
        "threshold": threshold,
        "model": model_id,
        "systems": systems + published,
        "published_source": SOURCE,
    }


def to_markdown(result: dict[str, Any]) -> str:
    """The result as a short Markdown table (published baselines marked)."""
    lines = [
        f"### toxicity: TweetEval {result['task']} test (n={result['n']})",
        "",
        "| system | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for row in result["systems"]:
        lines.append(f"| {row['system']} | " + " | ".join(str(row.get(c, "")) for c in COLUMNS)
                     + " |")
    if result.get("published_source"):
        lines += ["", f"Published figures: {result['published_source']}."]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> Path | None:
    """A PNG bar chart of macro-F1 per system (published baselines hatched); ``None`` when
    matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in result["systems"] if "macro_f1" in r]
    names = [r["system"] for r in rows]
    values = [r["macro_f1"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    bars = ax.barh(range(len(rows)), values,
                   color=["#bbbbbb" if r.get("published") else "#3b7dd8" for r in rows])
    for bar, r in zip(bars, rows, strict=True):
        if r.get("published"):
            bar.set_hatch("//")
    ax.set_yticks(range(len(rows)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1 (TweetEval test)")
    ax.set_title(f"Toxicity: TweetEval {result['task']} (n={result['n']}; hatched: published)")
    for i, v in enumerate(values):
        ax.text(v + 0.01, i, f"{v:.3f}", va="center", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_outputs(result: dict[str, Any], output: Path) -> list[Path]:
    """Write ``output`` (JSON), the same name in ``.md`` and ``.png``; the paths written."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    md = output.with_suffix(".md")
    md.write_text(to_markdown(result) + "\n", encoding="utf-8")
    written = [output, md]
    png = plot(result, output.with_suffix(".png"))
    if png is not None:
        written.append(png)
    return written


__all__ = ["PUBLISHED", "SOURCE", "eval_toxicity", "plot", "to_markdown", "write_outputs"]
