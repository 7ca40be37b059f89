"""How far to trust the "unsupported" marks: Ponder's sentence-support checker as a
hallucination detector, measured on FRANK the way the FRANK paper measures factuality metrics.

Each FRANK system summary is checked against its article (the article is the one source), and
the summary's score is the share of its claim sentences the checker finds supported, which is
what the marks of ``ponder ask`` amount to (filler sentences are not checked; a summary with no
claim scores 1). The score is then correlated with the human ``Factuality`` judgement (the
share of the summary's sentences without a factual error) by **partial correlation, controlling
for the summarization system** (Pearson and Spearman; each variable residualised on the
system's dummies), on the test split, with a bootstrap interval. The published metrics' outputs
shipped with FRANK are correlated the same way in the same run, as the reference.

Checkers (``support=``):

- ``lexical``: ``ponder.rag.citations.check_support`` as ``ask`` runs it by default (content-word
  containment, numbers must match).
- ``embedding``: the same with an embedder (``ask --support embedding``): a sentence also counts
  as supported when its cosine similarity with some source sentence reaches the threshold.
- ``fragments``: the share of the sentence's word n-grams (n = 1..6, averaged) found in the
  source, a stricter test of copying: a changed relation or an invented entity breaks the
  n-grams around it even where every single word occurs somewhere in the article. Supported
  at 0.7 or more.
- ``combined``: the mean of ``fragments`` and the best cosine similarity (MiniLM) with a
  source sentence; supported at 0.7 or more.

The n-gram length and the thresholds of ``fragments`` and ``combined`` were chosen on FRANK's
validation split; the test split was used only to report.

>>> check_summary("Cats purr when happy. Dogs can fly.", "Cats purr when happy.").supported_share
0.5
>>> round(fragment_support("the cat sat on the mat", "a cat sat on the mat today"), 3)
0.619
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed import load_embedder
from ponder.embed.base import Embedder
from ponder.errors import ConfigError, InputError
from ponder.rag.citations import check_support
from ponder.safety.stats import partial_corr, partial_corr_ci
from ponder.text import sentence_spans

SUPPORTS = ("lexical", "embedding", "fragments", "combined")
ERROR_TYPES = ("RelE", "EntE", "CircE", "OutE", "GramE", "CorefE", "LinkE", "Other")
ERROR_NAMES = {
    "RelE": "relation error", "EntE": "entity error", "CircE": "circumstance error",
    "OutE": "out-of-article error", "GramE": "grammatical error", "CorefE": "coreference error",
    "LinkE": "discourse link error", "Other": "other error",
}
# FRANK's published metrics (key in baseline_factuality_metrics_outputs.json) and their partial
# Pearson correlation with Factuality on the test split, as computed by this module.
PUBLISHED: dict[str, tuple[str, float]] = {
    "BERTScore-P (article)": ("BertScore P Art", 0.295),
    "FactCC": ("FactCC", 0.201),
    "DAE-style dependency entailment": ("Dep Entail", 0.179),
    "ROUGE-L": ("Rouge L", 0.133),
    "QAGS": ("QAGS", 0.093),
    "FEQA": ("FEQA", 0.00),
}
GOAL = 0.30
FRANK_TEST_SUMMARIES = 1575  # the published figures are for exactly this set
# Chosen on FRANK's validation split (671 summaries), never on the test split: n-grams up to 6
# words and a threshold of 0.7 gave the best partial Pearson there.
FRAGMENT_THRESHOLD = 0.7
FRAGMENT_MAX_N = 6
_FILES = ("summaries.jsonl", "human_annotations.json", "baseline_factuality_metrics_outputs.json")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)?")


@dataclass(frozen=True)
class FrankItem:
    """One FRANK system summary with its article, human judgements and published metrics."""

    article_id: str
    system: str
    dataset: str
    summary: str
    article: str
    factuality: float
    errors: dict[str, float] = field(default_factory=dict)  # per type, 1 = no such error
    flipped: dict[str, float] = field(default_factory=dict)  # Factuality ignoring that type
    baselines: dict[str, float | None] = field(default_factory=dict)


def load_frank(folder: str | Path, split: str = "test") -> list[FrankItem]:
    """FRANK's judged system summaries of one split (``test``, ``valid`` or ``all``), joined
    with their articles (``hash`` = ``id``, ``model_name`` = the ``system_summaries`` key)."""
    root = Path(folder)
    missing = [f for f in _FILES if not (root / f).is_file()]
    if missing:
        raise InputError(
            f"FRANK data not found: {root} lacks {', '.join(missing)}; the data is expected "
            "at ../shared/datasets/frank_summarization (pass --frank FOLDER)"
        )
    if split not in ("test", "valid", "all"):
        raise ConfigError(f"split {split!r}: use 'test', 'valid' or 'all'")
    with (root / "summaries.jsonl").open(encoding="utf-8") as f:
        articles = {d["id"]: d for d in map(json.loads, filter(str.strip, f))}
    human = json.loads((root / "human_annotations.json").read_text(encoding="utf-8"))
    base = json.loads(
        (root / "baseline_factuality_metrics_outputs.json").read_text(encoding="utf-8")
    )
    base_by = {(b["hash"], b["model_name"]): b for b in base}
    out = []
    for h in human:
        if split != "all" and h.get("split") != split:
            continue
        art = articles.get(h["hash"])
        if art is None or h["model_name"] not in art["system_summaries"]:
            continue
        b = base_by.get((h["hash"], h["model_name"]), {})
        out.append(FrankItem(
            article_id=h["hash"],
            system=h["model_name"],
            dataset=h.get("dataset", art.get("dataset", "")),
            summary=art["system_summaries"][h["model_name"]],
            article=art["article"],
            factuality=float(h["Factuality"]),
            errors={t: float(h[t]) for t in ERROR_TYPES if t in h},
            flipped={t: float(h[f"Flip_{t}"]) for t in ERROR_TYPES if f"Flip_{t}" in h},
            baselines={key: _num(b.get(key)) for key, _ in PUBLISHED.values()},
        ))
    if not out:
        raise InputError(f"no judged summaries for split {split!r} in {root}")
    return out


def _num(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


# ------------------------------------------------------------------ sentence support


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return set(zip(*[words[i:] for i in range(n)], strict=False))


class _Source:
    """A source's word n-grams, computed once."""

    def __init__(self, text: str, max_n: int = FRAGMENT_MAX_N) -> None:
        words = _words(text)
        self.grams = {n: _ngrams(words, n) for n in range(1, max_n + 1)}


def fragment_support(sentence: str, source: str | _Source, max_n: int = FRAGMENT_MAX_N) -> float:
    """The mean over n = 1..``max_n`` of the share of the sentence's word n-grams found in
    ``source`` (n-grams longer than the sentence are skipped; 0 for a sentence without words)."""
    src = source if isinstance(source, _Source) else _Source(source, max_n)
    words = _words(sentence)
    shares = []
    for n in range(1, max_n + 1):
        grams = list(zip(*[words[i:] for i in range(n)], strict=False))
        if grams:
            shares.append(sum(g in src.grams[n] for g in grams) / len(grams))
    return round(float(np.mean(shares)), 4) if shares else 0.0


@dataclass(frozen=True)
class SummaryCheck:
    """The checker's verdict on one summary."""

    sentences: int
    claims: int
    unsupported: tuple[str, ...]
    supported_share: float  # the summary's score: supported claims / claims (1 when none)
    mean_support: float  # mean of the claims' support scores (the checker's raw score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sentences": self.sentences,
            "claims": self.claims,
            "unsupported": list(self.unsupported),
            "supported_share": self.supported_share,
            "mean_support": self.mean_support,
        }


def check_summary(
    summary: str,
    source: str,
    *,
    support: str = "lexical",
    embedder: Any = None,
    threshold: float | None = None,
) -> SummaryCheck:
    """Check every sentence of ``summary`` against ``source`` with the ``support`` checker."""
    if support not in SUPPORTS:
        raise ConfigError(f"support {support!r}: use one of {', '.join(SUPPORTS)}")
    if support in ("embedding", "combined") and embedder is None:
        raise ConfigError(f"support {support!r} needs an embedder (e.g. load_embedder('minilm'))")
    kw: dict[str, Any] = {} if threshold is None else {"threshold": threshold}
    results = check_support(summary, {1: source},
                            embedder=embedder if support == "embedding" else None, **kw)
    claims = [r for r in results if r.kind == "claim"]
    if support in ("lexical", "embedding"):
        flags = [bool(r.supported_by) for r in claims]
        scores = [r.score for r in claims]
    else:
        src = _Source(source)
        scores = [fragment_support(r.text, src) for r in claims]
        if support == "combined" and claims:
            sims = _max_similarity(embedder, [r.text for r in claims], source)
            scores = [(s + float(m)) / 2 for s, m in zip(scores, sims, strict=True)]
        cut = FRAGMENT_THRESHOLD if threshold is None else threshold
        flags = [s >= cut for s in scores]
    return SummaryCheck(
        sentences=len(results),
        claims=len(claims),
        unsupported=tuple(r.text for r, ok in zip(claims, flags, strict=True) if not ok),
        supported_share=round(sum(flags) / len(flags), 4) if flags else 1.0,
        mean_support=round(float(np.mean(scores)), 4) if scores else 1.0,
    )


def _max_similarity(embedder: Any, sentences: list[str], source: str) -> np.ndarray:
    src = [source[s:e] for s, e in sentence_spans(source)] or [source]
    vecs = embedder.embed([*sentences, *src])
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return (vecs[: len(sentences)] @ vecs[len(sentences):].T).max(axis=1)


class CachedEmbedder:
    """Wraps an embedder so that a text seen before is not embedded again (an article's
    sentences are checked once per system summary)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_id = getattr(inner, "model_id", "")
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            for t, v in zip(new, self.inner.embed(new), strict=True):
                self._cache[t] = np.asarray(v, dtype=np.float32)
        if len(self._cache) > 200_000:  # keep memory bounded (~300 MB of MiniLM vectors)
            keep = set(texts)
            self._cache = {t: v for t, v in self._cache.items() if t in keep}
        return np.vstack([self._cache[t] for t in texts])


# ------------------------------------------------------------------ correlations


@dataclass(frozen=True)
class Correlation:
    """Partial correlation of one score with a human judgement, controlling for the system."""

    name: str
    n: int
    pearson: float
    spearman: float
    pearson_ci: tuple[float, float]
    published: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name, "n": self.n, "pearson": _r(self.pearson),
            "spearman": _r(self.spearman), "pearson_ci95": [_r(x) for x in self.pearson_ci],
        }
        if self.published is not None:
            d["published_pearson"] = self.published
        return d


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


def correlate(
    name: str,
    scores: Sequence[float | None],
    human: Sequence[float],
    systems: Sequence[str],
    *,
    published: float | None = None,
    resamples: int = 1000,
    seed: int = 0,
) -> Correlation:
    """``Correlation`` over the items whose score is present (missing outputs are dropped, as
    FRANK does for the metrics that failed on some summaries)."""
    keep = [i for i, s in enumerate(scores) if s is not None and not math.isnan(s)]
    x = np.array([scores[i] for i in keep], dtype=float)
    y = np.array([human[i] for i in keep], dtype=float)
    cats = [systems[i] for i in keep]
    if len(keep) < 3:
        nan = math.nan
        return Correlation(name, len(keep), nan, nan, (nan, nan), published)
    return Correlation(
        name=name,
        n=len(keep),
        pearson=partial_corr(x, y, cats),
        spearman=partial_corr(x, y, cats, method="spearman"),
        pearson_ci=partial_corr_ci(x, y, cats, resamples=resamples, seed=seed),
        published=published,
    )


@dataclass(frozen=True)
class FaithfulnessReport:
    """Everything ``ponder eval faithfulness`` reports."""

    split: str
    support: str
    summaries: int
    checker: Correlation  # supported share (the marks) vs Factuality
    checker_raw: Correlation  # mean support score vs Factuality
    baselines: tuple[Correlation, ...]
    per_error_type: dict[str, dict[str, float | None]]
    per_dataset: dict[str, Correlation]
    unsupported_rate: float  # share of checked claim sentences marked unsupported
    factual_rate: float  # share of summaries judged fully factual (Factuality == 1)
    seconds: float
    records: tuple[dict[str, Any], ...] = ()

    @property
    def goal_met(self) -> bool:
        best = max((b.pearson for b in self.baselines if not math.isnan(b.pearson)), default=0.0)
        return self.checker.pearson > GOAL and self.checker.pearson > best

    def to_dict(self, with_records: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "split": self.split,
            "support": self.support,
            "summaries": self.summaries,
            "method": "partial correlation with human Factuality, controlling for the "
                      "summarization system (residuals on system dummies); 95% bootstrap "
                      "interval for Pearson",
            "checker": self.checker.to_dict(),
            "checker_raw_score": self.checker_raw.to_dict(),
            "baselines": [b.to_dict() for b in self.baselines],
            "per_error_type": self.per_error_type,
            "per_dataset": {k: v.to_dict() for k, v in self.per_dataset.items()},
            "unsupported_rate": self.unsupported_rate,
            "factual_rate": self.factual_rate,
            "goal": {"partial_pearson_above": GOAL, "and_above_all_baselines": True,
                     "met": self.goal_met},
            "seconds": round(self.seconds, 2),
        }
        if with_records:
            d["records"] = list(self.records)
        return d

    def metrics(self) -> dict[str, float]:
        """Flat numeric figures (for experiment tracking)."""
        out = {"checker.partial_pearson": self.checker.pearson,
               "checker.partial_spearman": self.checker.spearman,
               "checker_raw.partial_pearson": self.checker_raw.pearson,
               "checker_raw.partial_spearman": self.checker_raw.spearman,
               "unsupported_rate": self.unsupported_rate, "summaries": float(self.summaries)}
        return {k: round(v, 6) for k, v in out.items() if not math.isnan(v)}

    def markdown(self) -> str:
        rows = [("Ponder checker: supported share (" + self.support + ")", self.checker),
                ("Ponder checker: mean support score", self.checker_raw),
                *((b.name, b) for b in self.baselines)]
        lines = [
            f"FRANK {self.split} split, {self.summaries} system summaries; partial correlation "
            "with human Factuality, controlling for the system.",
            "",
            "| metric | n | partial Pearson | 95% interval | partial Spearman | published |",
            "|---|---:|---:|---|---:|---:|",
        ]
        for name, c in rows:
            lo, hi = c.pearson_ci
            pub = "" if c.published is None else f"{c.published:.3f}"
            lines.append(f"| {name} | {c.n} | {_f(c.pearson)} | [{_f(lo)}, {_f(hi)}] | "
                         f"{_f(c.spearman)} | {pub} |")
        lines += ["", "| error type | partial Pearson with that type's judgement | "
                  "change when that type is ignored (negative: the checker sees it) |",
                  "|---|---:|---:|"]
        for t, v in self.per_error_type.items():
            lines.append(f"| {t} ({ERROR_NAMES[t]}) | {_f(v['pearson'])} | "
                         f"{_f(v['flip_delta'])} |")
        met = "met" if self.goal_met else "not met"
        lines += ["", f"Goal (partial Pearson > {GOAL} and above every published metric): {met}."]
        return "\n".join(lines)


def _f(x: float | None) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.3f}"


def faithfulness_report(
    folder: str | Path,
    *,
    split: str = "test",
    support: str = "lexical",
    embedder: Any = None,
    limit: int | None = None,
    seed: int = 0,
    resamples: int = 1000,
    progress: Callable[[int], None] | None = None,
    items: Sequence[FrankItem] | None = None,
) -> FaithfulnessReport:
    """Check FRANK's summaries and correlate the verdicts with the human judgement.

    ``limit`` keeps a seeded random sample of that many summaries; ``items`` (already loaded)
    replaces ``folder``. ``embedder``: for ``support="embedding"`` or ``"combined"`` (a name or
    an ``Embedder``; default ``minilm``).
    """

    if support not in SUPPORTS:
        raise ConfigError(f"--support {support!r}: use one of {', '.join(SUPPORTS)}")
    data = list(items) if items is not None else load_frank(folder, split)
    if limit is not None:
        if limit < 3:
            raise ConfigError(f"--limit must be at least 3 summaries, got {limit}")
        if limit < len(data):
            pick = np.random.default_rng(seed).choice(len(data), size=limit, replace=False)
            data = [data[i] for i in sorted(pick)]
    emb = None
    if support in ("embedding", "combined"):
        if isinstance(embedder, CachedEmbedder):
            emb = embedder
        else:
            emb = CachedEmbedder(embedder if isinstance(embedder, Embedder)
                                 else load_embedder(embedder or "minilm"))
    t0 = time.perf_counter()
    checks: list[SummaryCheck] = []
    for it in data:
        checks.append(check_summary(it.summary, it.article, support=support, embedder=emb))
        if progress:
            progress(1)
    seconds = time.perf_counter() - t0
    human = [it.factuality for it in data]
    systems = [it.system for it in data]
    share = [c.supported_share for c in checks]
    kw = {"resamples": resamples, "seed": seed}
    checker = correlate(f"Ponder checker ({support})", share, human, systems, **kw)
    per_type: dict[str, dict[str, float | None]] = {}
    for t in ERROR_TYPES:
        if not all(t in it.errors and t in it.flipped for it in data):
            continue
        typed = correlate(t, share, [it.errors[t] for it in data], systems, resamples=0)
        flipped = correlate(t, share, [it.flipped[t] for it in data], systems, resamples=0)
        per_type[t] = {
            "pearson": _r(typed.pearson),
            "flip_delta": _r(flipped.pearson - checker.pearson),
            "summaries_with_error": sum(it.errors[t] < 1 for it in data),
        }
    per_dataset = {}
    for ds in sorted({it.dataset for it in data}):
        idx = [i for i, it in enumerate(data) if it.dataset == ds]
        per_dataset[ds] = correlate(ds, [share[i] for i in idx], [human[i] for i in idx],
                                    [systems[i] for i in idx], **kw)
    full_test = split == "test" and len(data) == FRANK_TEST_SUMMARIES
    claims = sum(c.claims for c in checks)
    unsupported = sum(len(c.unsupported) for c in checks)
    records = tuple(
        {"article_id": it.article_id, "system": it.system, "dataset": it.dataset,
         "factuality": it.factuality, **c.to_dict()}
        for it, c in zip(data, checks, strict=True)
    )
    return FaithfulnessReport(
        split=split,
        support=support,
        summaries=len(data),
        checker=checker,
        checker_raw=correlate("mean support score", [c.mean_support for c in checks], human,
                              systems, **kw),
        baselines=tuple(
            correlate(name, [it.baselines.get(key) for it in data], human, systems,
                      published=pub if full_test else None, **kw)
            for name, (key, pub) in PUBLISHED.items()
        ),
        per_error_type=per_type,
        per_dataset=per_dataset,
        unsupported_rate=round(unsupported / claims, 4) if claims else 0.0,
        factual_rate=round(float(np.mean([h >= 1.0 for h in human])), 4),
        seconds=seconds,
        records=records,
    )


__all__ = [
    "ERROR_TYPES",
    "GOAL",
    "PUBLISHED",
    "SUPPORTS",
    "CachedEmbedder",
    "Correlation",
    "FaithfulnessReport",
    "FrankItem",
    "SummaryCheck",
    "check_summary",
    "correlate",
    "faithfulness_report",
    "fragment_support",
    "load_frank",
]
