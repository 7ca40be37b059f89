"""Evaluations of the task pipelines on the shared real data sets, each against simple baselines
measured in the same run, on a fixed-seed subset so that a run takes minutes on a laptop CPU.

==============  ==========================================  ==================================
task            data (``../shared/datasets``)               systems and metrics
==============  ==========================================  ==================================
summarization   FRANK test split (CNN/DM + XSum articles)   lead-3, extractive, abstractive:
                                                            ROUGE-1/2/L F1
sentiment       TweetEval sentiment test                    majority class, the classifier
                                                            head, embedding, LLM label
                                                            likelihood (+ calibrated, on a
                                                            subset): accuracy, macro-F1
zeroshot        TweetEval sentiment test, its labels used   majority class, LLM, embedding
                as free labels of a generic classifier      with "This text is about {label}."
zeroshot-dev    TweetEval val of sentiment, offensive and   embedding vs LLM, macro-F1 per
                hate, label words as free labels            label set and their mean
translation     WMT22 general test en-de (refs A and B)     copy-the-source, the model: chrF,
                                                            BLEU (sacrebleu)
==============  ==========================================  ==================================

Each ``eval_*`` function returns a JSON-able ``dict``: ``task``, ``data``, ``n``, ``seed``,
``model``, ``systems`` (one row of metrics per system, with its seconds) and notes;
``to_markdown`` renders it as a table. Data sets are read from ``datasets_dir()``
(``$PONDER_DATASETS``, else ``../shared/datasets`` beside the project); a missing one raises
``InputError`` saying where it was looked for.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ponder.errors import InputError
from ponder.evaluate.text_metrics import accuracy, bleu, chrf, macro_f1, rouge
from ponder.llm import load_generator
from ponder.llm.base import Generator
from ponder.tasks import pipeline
from ponder.tasks.head import ece
from ponder.tasks.scoring import calibrate

SENTIMENT_NAMES = ("negative", "neutral", "positive")  # TweetEval's 0 / 1 / 2
Progress = Callable[[int], None] | None


def datasets_dir() -> Path:
    """``$PONDER_DATASETS``, else ``shared/datasets`` beside the project folder."""
    env = os.environ.get("PONDER_DATASETS")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
    if beside.exists():
        return beside
    return Path.cwd().parent / "shared" / "datasets"


def _dataset(name: str) -> Path:
    path = datasets_dir() / name
    if not path.exists():
        raise InputError(
            f"data set {name!r} not found at {path}: put the shared data sets there, or set "
            "PONDER_DATASETS to the folder holding them"
        )
    return path


def _subset(n_total: int, n: int | None, seed: int) -> list[int]:
    """``n`` indices drawn without replacement with ``seed``, in ascending order."""
    if n is None or n >= n_total:
        return list(range(n_total))
    return sorted(random.Random(seed).sample(range(n_total), n))


# ------------------------------------------------------------------ data


def load_frank(n: int | None = 100, seed: int = 0, split: str = "test") -> list[dict[str, Any]]:
    """FRANK articles of ``split`` (``test`` or ``validation``): ``id``, ``dataset`` (cnndm or
    xsum), ``article``, ``reference``."""
    folder = _dataset("frank_summarization")
    ids = set((folder / f"{split}_split.txt").read_text().split())
    rows = []
    with (folder / "summaries.jsonl").open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["id"] in ids:
                rows.append({k: r[k] for k in ("id", "dataset", "article", "reference")})
    return [rows[i] for i in _subset(len(rows), n, seed)]


def load_tweeteval(
    n: int | None = 500, seed: int = 0, split: str = "test", task: str = "sentiment",
    folder: Path | None = None,
) -> tuple[list[str], list[str]]:
    """TweetEval ``task`` ``(texts, gold label names)`` (names from its ``mapping.txt``);
    ``folder`` is the TweetEval folder (default: the shared data sets')."""
    root = _dataset("tweeteval") if folder is None else Path(folder)
    d = root / task
    files = [d / f"{split}_text.txt", d / f"{split}_labels.txt"]
    missing = [f for f in files if not f.exists()]
    if missing:
        raise InputError(
            f"TweetEval {task} {split} split not found: expected {missing[0]} (the TweetEval "
            f"folder holds sentiment/, offensive/, hate/); pass --tweeteval DIR or set "
            "PONDER_DATASETS"
        )
    mapping = d / "mapping.txt"
    names = (
        [line.split("\t")[-1].strip() for line in mapping.read_text().splitlines() if line.strip()]
        if mapping.exists() else list(SENTIMENT_NAMES)
    )
    texts = files[0].read_text(encoding="utf-8").splitlines()
    labels = files[1].read_text().split()
    idx = _subset(len(texts), n, seed)
    return [texts[i] for i in idx], [names[int(labels[i])] for i in idx]


def load_wmt(n: int | None = 100, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """WMT22 en-de ``(sources, references A, references B)``."""
    rows = []
    with (_dataset("wmt22_en_de") / "en-de.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    sel = [rows[i] for i in _subset(len(rows), n, seed)]
    return [r["en"] for r in sel], [r["de_ref_A"] for r in sel], [r["de_ref_B"] for r in sel]


# ------------------------------------------------------------------ helpers


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - t0, 2)


def _each(fn: Callable[[str], Any], items: Sequence[str], progress: Progress) -> list[Any]:
    out = []
    for x in items:
        out.append(fn(x))
        if progress:
            progress(1)
    return out


def _model_id(model: Any) -> str:
    if isinstance(model, Generator):
        return model.model_id

    return load_generator(model).model_id


def _classification_row(name: str, gold: list[str], pred: list[str], labels: Sequence[str],
                        seconds: float) -> dict[str, Any]:
    return {
        "system": name,
        "accuracy": round(accuracy(gold, pred), 4),
        "macro_f1": round(macro_f1(gold, pred, list(labels)), 4),
        "predicted": dict(Counter(pred)),
        "seconds": seconds,
    }


# ------------------------------------------------------------------ evaluations


def _summary_row(label: str, out: list[str], rows: list[dict[str, Any]], secs: float
                 ) -> dict[str, Any]:
    refs = [r["reference"] for r in rows]
    row: dict[str, Any] = {"system": label, "n": len(rows), "seconds": secs}
    row.update({k: round(v, 4) for k, v in rouge(out, refs).items()})
    for ds in ("cnndm", "xsum"):
        sel = [i for i, r in enumerate(rows) if r["dataset"] == ds]
        if sel:
            sub = rouge([out[i] for i in sel], [refs[i] for i in sel])
            row[ds] = {k: round(v, 4) for k, v in sub.items()}
    row["mean_words"] = round(sum(len(s.split()) for s in out) / len(out), 1)
    row["example"] = out[0][:300]
    return row


def eval_summarization(
    n: int = 100, seed: int = 0, *, model: Any = None, embedder: Any = None,
    abstractive_n: int | None = None, progress: Progress = None,
) -> dict[str, Any]:
    """ROUGE-1/2/L on ``n`` FRANK test articles: lead-3 and extractive on all of them, the
    abstractive LLM on the first ``abstractive_n`` (default: all; 0 skips it), where lead-3 and
    extractive are scored again so that every method is compared on the same articles."""

    rows = load_frank(n, seed)
    articles = [r["article"] for r in rows]
    k = len(rows) if abstractive_n is None else min(abstractive_n, len(rows))
    systems = []
    outputs: dict[str, list[str]] = {}
    for method in ("lead", "extractive"):
        pipe = pipeline("summarization", embedder=embedder, method=method)
        out, secs = _timed(lambda p=pipe: _each(lambda a, p=p: p(a)["summary"], articles,
                                                progress))
        outputs[method] = out
        label = "lead-3 (baseline)" if method == "lead" else "extractive"
        systems.append(_summary_row(label, out, rows, secs))
    if k:
        sub = rows[:k]
        pipe = pipeline("summarization", model=model, method="abstractive")
        out, secs = _timed(lambda: _each(lambda a: pipe(a)["summary"], articles[:k], progress))
        if k < len(rows):
            for method, label in (("lead", "lead-3 (baseline)"), ("extractive", "extractive")):
                systems.append(_summary_row(label, outputs[method][:k], sub, 0.0))
        systems.append(_summary_row("abstractive", out, sub, secs))
    return {
        "task": "summarization",
        "data": "FRANK test split (CNN/DM + XSum), ROUGE F1 with stemming",
        "n": len(rows),
        "n_by_dataset": dict(Counter(r["dataset"] for r in rows)),
        "abstractive_n": k,
        "seed": seed,
        "model": _model_id(model) if k else None,
        "systems": systems,
    }


def eval_sentiment(
    n: int | None = 500, seed: int = 0, *, model: Any = None, embedder: Any = None,
    llm_n: int | None = None, progress: Progress = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1 on ``n`` TweetEval test tweets (``None``: all 12,284): majority
    class, the shipped classifier head (the default method; with its expected calibration
    error), the embedding method, and the LLM (plain and with contextual calibration, from the
    same scores) on the first ``llm_n`` of them (default all; 0 skips it), where the head and
    the majority class are scored again so that the methods compare on the same tweets."""

    texts, gold = load_tweeteval(n, seed)
    labels = list(SENTIMENT_NAMES)
    majority = Counter(gold).most_common(1)[0][0]
    systems = [_classification_row(f"majority class ({majority})", gold, [majority] * len(gold),
                                   labels, 0.0)]
    head = pipeline("sentiment", labels=labels)  # the head brings its own embedder
    hprobs, secs = _timed(lambda: head.probabilities_batch(texts))
    if progress:
        progress(len(texts))
    hpred = [labels[i] for i in hprobs.argmax(axis=1)]
    row = _classification_row("head (default)", gold, hpred, labels, secs)
    row["ece"] = round(ece(hprobs.max(axis=1), [p == g for p, g in zip(hpred, gold,
                                                                         strict=True)]), 4)
    row["detail"] = head.head.describe()
    systems.append(row)
    emb = pipeline("sentiment", embedder=embedder, labels=labels, method="embedding")
    eprobs, secs = _timed(lambda: emb.probabilities_batch(texts))
    if progress:
        progress(len(texts))
    pred = [labels[i] for i in eprobs.argmax(axis=1)]
    systems.append(_classification_row("embedding", gold, pred, labels, secs))
    k = len(texts) if llm_n is None else min(llm_n, len(texts))
    prior: list[float] = []
    if k:
        llm = pipeline("sentiment", model=model, labels=labels, method="llm")
        probs, secs = _timed(lambda: _each(llm.probabilities, texts[:k], progress))

        def argmax(p: Sequence[float]) -> str:
            return labels[max(range(len(labels)), key=lambda i: p[i])]

        sub = gold[:k]
        if k < len(texts):
            for name, pr in ((f"majority class ({majority})", [majority] * k),
                             ("head (default)", hpred[:k])):
                systems.append(_classification_row(f"{name}, first {k}", sub, pr, labels, 0.0))
        systems.append(_classification_row(f"llm, first {k}" if k < len(texts) else "llm", sub,
                                           [argmax(p) for p in probs], labels, secs))
        prior, psecs = _timed(llm.prior)
        systems.append(_classification_row(
            f"llm + calibration, first {k}" if k < len(texts) else "llm + calibration", sub,
            [argmax(calibrate(p, prior)) for p in probs], labels, round(secs + psecs, 2),
        ))
    return {
        "task": "sentiment",
        "data": "TweetEval sentiment test",
        "n": len(texts),
        "llm_n": k,
        "gold": dict(Counter(gold)),
        "seed": seed,
        "model": _model_id(model) if k else None,
        "systems": systems,
        "content_free_prior": (
            {lab: round(p, 4) for lab, p in zip(labels, prior, strict=True)} if prior else None
        ),
    }


def eval_zeroshot(
    n: int = 500, seed: int = 0, *, model: Any = None, embedder: Any = None,
    progress: Progress = None,
) -> dict[str, Any]:
    """The generic zero-shot classifier on TweetEval sentiment, its labels given as free labels,
    by both scoring methods, against the majority class."""

    texts, gold = load_tweeteval(n, seed)
    labels = list(SENTIMENT_NAMES)
    majority = Counter(gold).most_common(1)[0][0]
    systems = [_classification_row(f"majority class ({majority})", gold, [majority] * len(gold),
                                   labels, 0.0)]
    for method in ("llm", "embedding"):
        clf = pipeline("zero-shot-classification", model=model, embedder=embedder,
                       labels=labels, method=method)
        pred, secs = _timed(lambda c=clf: _each(lambda t, c=c: c(t)["label"], texts, progress))
        systems.append(_classification_row(method, gold, pred, labels, secs))
    return {
        "task": "zeroshot",
        "data": "TweetEval sentiment test, labels as free zero-shot labels",
        "n": len(texts),
        "gold": dict(Counter(gold)),
        "seed": seed,
        "model": _model_id(model),
        "systems": systems,
    }


# The dev set of the zero-shot default: tweets and label sets we did not write (TweetEval val),
# each gold label given as the free label word a user would type.
ZEROSHOT_DEV = {
    "sentiment": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
    "offensive": {"not-offensive": "not offensive", "offensive": "offensive"},
    "hate": {"not-hate": "not hateful", "hate": "hate speech"},
}


def eval_zeroshot_dev(
    n: int = 150, seed: int = 0, *, model: Any = None, embedder: Any = None,
    methods: Sequence[str] = ("embedding", "llm"), progress: Progress = None,
) -> dict[str, Any]:
    """The dev set that picks the zero-shot default: ``n`` tweets (fixed seed) from each of
    TweetEval sentiment, offensive and hate ``val``, classified into their label words as free
    labels by each method; macro-F1 per label set and the mean over them."""

    systems = []
    sets: dict[str, dict[str, Any]] = {}
    data = {task: load_tweeteval(n, seed, split="val", task=task) for task in ZEROSHOT_DEV}
    for task, (texts, gold) in data.items():
        words = ZEROSHOT_DEV[task]
        sets[task] = {"n": len(texts), "labels": list(words.values()),
                      "gold": dict(Counter(words[g] for g in gold))}
    for method in methods:
        row: dict[str, Any] = {"system": method}
        f1s = []
        total = 0.0
        for task, (texts, gold) in data.items():
            words = ZEROSHOT_DEV[task]
            labels = list(words.values())
            clf = pipeline("zero-shot-classification", model=model, embedder=embedder,
                           labels=labels, method=method)
            pred, secs = _timed(lambda c=clf, t=texts: _each(lambda x, c=c: c(x)["label"], t,
                                                             progress))
            f1 = macro_f1([words[g] for g in gold], pred, labels)
            row[f"{task}_macro_f1"] = round(f1, 4)
            f1s.append(f1)
            total += secs
        row["mean_macro_f1"] = round(sum(f1s) / len(f1s), 4)
        row["seconds"] = round(total, 2)
        systems.append(row)
    best = max(systems, key=lambda r: r["mean_macro_f1"])["system"]
    return {
        "task": "zeroshot-dev",
        "data": "TweetEval val (sentiment, offensive, hate), label words as free labels",
        "n": sum(len(t) for t, _ in data.values()),
        "seed": seed,
        "model": _model_id(model) if "llm" in methods else None,
        "label_sets": sets,
        "systems": systems,
        "best": best,
    }


def eval_translation(
    n: int = 100, seed: int = 0, *, model: Any = None, progress: Progress = None,
    **generation: Any,
) -> dict[str, Any]:
    """chrF and BLEU (against references A and B) on ``n`` WMT22 en-de sentences: the model,
    and copying the source as the baseline; with how often the output carried a warning."""

    src, ref_a, ref_b = load_wmt(n, seed)
    refs = [ref_a, ref_b]
    systems = [{
        "system": "copy source (baseline)",
        "chrf": round(chrf(src, refs), 2),
        "bleu": round(bleu(src, refs), 2),
        "seconds": 0.0,
    }]
    tr = pipeline("translation", model=model, source="en", target="de", **generation)
    results, secs = _timed(lambda: _each(tr, src, progress))
    out = [r["translation"] for r in results]
    warned = [r for r in results if r.get("warning")]
    systems.append({
        "system": "llm",
        "chrf": round(chrf(out, refs), 2),
        "bleu": round(bleu(out, refs), 2),
        "seconds": secs,
        "warnings": len(warned),
        "example": {"source": src[0], "output": out[0], "reference": ref_a[0]},
    })
    notes = sorted({r["note"] for r in results if r.get("note")})
    return {
        "task": "translation",
        "data": "WMT22 general test en-de, references A and B",
        "n": len(src),
        "seed": seed,
        "model": _model_id(model),
        "systems": systems,
        "warning_examples": sorted({r["warning"] for r in warned})[:5],
        "notes": notes,
    }


EVALUATIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "summarization": eval_summarization,
    "sentiment": eval_sentiment,
    "zeroshot": eval_zeroshot,
    "zeroshot-dev": eval_zeroshot_dev,
    "translation": eval_translation,
}
COLUMNS = {
    "summarization": ("n", "rouge1", "rouge2", "rougeL", "mean_words", "seconds"),
    "sentiment": ("accuracy", "macro_f1", "ece", "seconds"),
    "zeroshot": ("accuracy", "macro_f1", "seconds"),
    "zeroshot-dev": ("sentiment_macro_f1", "offensive_macro_f1", "hate_macro_f1",
                     "mean_macro_f1", "seconds"),
    "translation": ("chrf", "bleu", "warnings", "seconds"),
}


def to_markdown(result: dict[str, Any]) -> str:
    """A Markdown table of one evaluation's systems.

    >>> print(to_markdown({"task": "zeroshot", "data": "d", "n": 2, "seed": 0, "model": "m",
    ...                    "systems": [{"system": "x", "accuracy": 0.5, "macro_f1": 0.3,
    ...                                 "seconds": 1.0}]}))
    ### zeroshot: d (n=2, seed 0, model m)
    <BLANKLINE>
    | system | accuracy | macro_f1 | seconds |
    |---|---|---|---|
    | x | 0.5 | 0.3 | 1.0 |
    """
    cols = COLUMNS[result["task"]]
    head = (
        f"### {result['task']}: {result['data']} (n={result['n']}, seed {result['seed']}, "
        f"model {result.get('model') or '-'})"
    )
    lines = [head, "", "| system | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for row in result["systems"]:
        cells = [str(row.get(c, "")) for c in cols]
        lines.append(f"| {row['system']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "EVALUATIONS",
    "datasets_dir",
    "eval_sentiment",
    "eval_summarization",
    "eval_translation",
    "eval_zeroshot",
    "eval_zeroshot_dev",
    "load_frank",
    "load_tweeteval",
    "load_wmt",
    "to_markdown",
]
