"""Train the classifier heads shipped in ``src/ponder/data/heads/`` on TweetEval.

Run:  .venv/bin/python scripts/train_heads.py [--tweeteval ../shared/datasets/tweeteval]
                                              [--only sentiment,offensive,hate] [--cache DIR]

Each head is a multinomial logistic regression (``ponder.tasks.head.EmbeddingHead``),
class-balanced, then temperature-calibrated on held-out data; the test splits are never read
here. The features: SmolLM2-135M's mean hidden state after layer 15 (``smollm2-hidden``) for
sentiment, all-MiniLM-L6-v2 embeddings for offensive and hate (``--embedder`` sets one for all).

- ``sentiment``: TweetEval sentiment ``val`` (2,000 tweets; its train split is not available
  offline), split 80/20 stratified with seed 0. The L2 penalty is chosen by 5-fold
  cross-validated macro-F1 on the 80 %, the head is fitted on the 80 % and its temperature on
  the 20 %.
- ``offensive`` and ``hate``: one head per task, fitted on the task's ``train`` split (11,916
  and 9,000 tweets); the L2 penalty is chosen by macro-F1 on ``val`` (1,324 and 1,000) and the
  temperature fitted on ``val``.

Deterministic: fixed seeds, full-batch training. Embeddings are cached under ``--cache``
(default ``~/.cache/ponder/head-embeddings``) keyed by the file's content and the embedder.
Writes ``src/ponder/data/heads/{sentiment,offensive,hate}.npz`` and prints each head's
figures (sizes, chosen L2, ECE before/after calibration) as JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ponder.embed import load_embedder  # noqa: E402
from ponder.evaluate.text_metrics import macro_f1  # noqa: E402
from ponder.tasks.head import HEADS_DIR, EmbeddingHead  # noqa: E402

SEED = 0
L2_GRID = (1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
L2_GRID_BINARY = (1e-3, 1e-2, 0.1)
EMBEDDERS = {"sentiment": "smollm2-hidden", "offensive": "minilm", "hate": "minilm"}
DESCRIPTIONS = {
    "sentiment": "SmolLM2-135M hidden states (layer 15, mean) + logistic regression, "
                 "TweetEval sentiment val",
    "offensive": "MiniLM + logistic regression, TweetEval offensive train",
    "hate": "MiniLM + logistic regression, TweetEval hate train",
}


def read_split(folder: Path, task: str, split: str) -> tuple[list[str], list[str]]:
    """Texts and label names of one TweetEval split."""
    d = folder / task
    names = [
        line.split("\t")[-1].strip() if "\t" in line else line.strip()
        for line in (d / "mapping.txt").read_text().splitlines() if line.strip()
    ]
    texts = (d / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [names[int(v)] for v in (d / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise SystemExit(f"{d}/{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def embed_cached(embedder: Any, texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.sha256(("\n".join(texts) + "\0" + embedder.model_id).encode()).hexdigest()[:24]
    path = cache / f"{key}.npy"
    if path.exists():
        return np.load(path)
    vecs = embedder.embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


def stratified_split(labels: list[str], frac: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices ``(first, second)`` with ``frac`` of each class in ``first``."""
    rng = np.random.default_rng(seed)
    first: list[int] = []
    second: list[int] = []
    for lab in sorted(set(labels)):
        idx = np.array([i for i, v in enumerate(labels) if v == lab])
        rng.shuffle(idx)
        cut = round(len(idx) * frac)
        first += idx[:cut].tolist()
        second += idx[cut:].tolist()
    return sorted(first), sorted(second)


def cv_macro_f1(x: np.ndarray, y: list[str], l2: float, folds: int = 5) -> float:
    labels = sorted(set(y))
    order = np.random.default_rng(SEED).permutation(len(y))
    scores = []
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        head = EmbeddingHead.fit(x[train], [y[i] for i in train], embedder_id="cv", l2=l2)
        pred = head.predict(x[test])
        scores.append(macro_f1([y[i] for i in test], pred, labels))
    return float(np.mean(scores))


def train_sentiment(folder: Path, embedder: Any, cache: Path) -> tuple[EmbeddingHead, dict]:
    texts, labels = read_split(folder, "sentiment", "val")
    x = embed_cached(embedder, texts, cache)
    fit_idx, cal_idx = stratified_split(labels, 0.8, SEED)
    yf = [labels[i] for i in fit_idx]
    grid = {l2: round(cv_macro_f1(x[fit_idx], yf, l2), 4) for l2 in L2_GRID}
    best = max(grid, key=lambda k: grid[k])
    head = EmbeddingHead.fit(
        x[fit_idx], yf, embedder_id=embedder.model_id, l2=best,
        labels=("negative", "neutral", "positive"),
        info={"description": DESCRIPTIONS["sentiment"],
              "data": "TweetEval sentiment val, 80% (stratified, seed 0)", "seed": SEED},
    )
    head = head.calibrated(x[cal_idx], [labels[i] for i in cal_idx])
    return head, {"n_fit": len(fit_idx), "n_calibration": len(cal_idx), "l2_cv_macro_f1": grid,
                  "l2": best}


def train_binary(task: str, folder: Path, embedder: Any, cache: Path
                 ) -> tuple[EmbeddingHead, dict]:
    tr_texts, tr_labels = read_split(folder, task, "train")
    va_texts, va_labels = read_split(folder, task, "val")
    xt = embed_cached(embedder, tr_texts, cache)
    xv = embed_cached(embedder, va_texts, cache)
    names = tuple(sorted(set(tr_labels)))
    grid: dict[float, float] = {}
    heads: dict[float, EmbeddingHead] = {}
    for l2 in L2_GRID_BINARY:
        heads[l2] = EmbeddingHead.fit(
            xt, tr_labels, embedder_id=embedder.model_id, l2=l2, labels=names,
            info={"description": DESCRIPTIONS[task], "data": f"TweetEval {task} train",
                  "seed": SEED},
        )
        grid[l2] = round(macro_f1(va_labels, heads[l2].predict(xv), list(names)), 4)
    best = max(grid, key=lambda k: grid[k])
    head = heads[best].calibrated(xv, va_labels)
    return head, {"n_fit": len(tr_texts), "n_calibration": len(va_texts),
                  "l2_val_macro_f1": grid, "l2": best}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tweeteval", type=Path, default=ROOT.parent / "shared/datasets/tweeteval")
    ap.add_argument("--only", default="sentiment,offensive,hate")
    ap.add_argument("--embedder", default=None,
                    help="features for every head (default: smollm2-hidden for sentiment, "
                    "minilm for offensive and hate)")
    ap.add_argument("--cache", type=Path,
                    default=Path.home() / ".cache" / "ponder" / "head-embeddings")
    ap.add_argument("--out", type=Path, default=HEADS_DIR)
    args = ap.parse_args(argv)
    if not (args.tweeteval / "sentiment").is_dir():
        raise SystemExit(
            f"TweetEval not found at {args.tweeteval}: expected the folders sentiment/, "
            "offensive/, hate/ there (pass --tweeteval DIR)"
        )
    report: dict[str, Any] = {}
    for task in [t.strip() for t in args.only.split(",") if t.strip()]:
        if task not in EMBEDDERS:
            raise SystemExit(f"unknown head {task!r}: sentiment, offensive or hate")
        embedder = load_embedder(args.embedder or EMBEDDERS[task])
        if task == "sentiment":
            head, fig = train_sentiment(args.tweeteval, embedder, args.cache)
        else:
            head, fig = train_binary(task, args.tweeteval, embedder, args.cache)
        path = head.save(args.out / f"{task}.npz")
        fig.update(head.info.get("calibration", {}))
        fig["bytes"] = path.stat().st_size
        report[task] = fig
        print(json.dumps({task: fig}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
