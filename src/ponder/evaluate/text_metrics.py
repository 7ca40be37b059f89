"""Text metrics for the task evaluations: ROUGE (``rouge-score``), BLEU and chrF
(``sacrebleu``), accuracy and macro-F1.

ROUGE-1/2/L are the F-measures of Google's ``rouge-score`` with the Porter stemmer, averaged
over the pairs (each summary against one reference), as in most summarization papers. BLEU and
chrF are sacrebleu's corpus-level scores (its default tokenizer ``13a`` and chrF's default
character n-grams of 6, beta 2), on a 0-100 scale; several reference sets may be given.

>>> r = rouge(["the cat sat on the mat"], ["the cat sat on a mat"])
>>> round(r["rouge1"], 3), round(r["rouge2"], 3)
(0.833, 0.6)
>>> round(bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]), 1)
100.0
>>> accuracy([0, 1, 1], [0, 1, 0])
0.6666666666666666
>>> round(macro_f1([0, 1, 1], [0, 1, 0]), 3)
0.667
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any

from ponder.errors import BackendUnavailableError, ConfigError

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=2)
def _scorer(stemmer: bool) -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError as e:  # pragma: no cover - a core dependency
        raise BackendUnavailableError(
            "ROUGE needs the 'rouge-score' package: pip install rouge-score"
        ) from e
    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stemmer)


def _same_length(a: Sequence[Any], b: Sequence[Any], what: str) -> None:
    if len(a) != len(b):
        raise ConfigError(f"{what}: {len(a)} predictions but {len(b)} references; pair them up")
    if not a:
        raise ConfigError(f"{what}: no predictions to score")


def rouge(predictions: Sequence[str], references: Sequence[str], *,
          stemmer: bool = True) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (0-1) of ``predictions`` against one reference each."""
    _same_length(predictions, references, "rouge")
    scorer = _scorer(stemmer)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        for key in ROUGE_TYPES:
            totals[key] += scores[key].fmeasure
    return {k: v / len(predictions) for k, v in totals.items()}


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError as e:  # pragma: no cover - a core dependency
        raise BackendUnavailableError(
            "BLEU and chrF need the 'sacrebleu' package: pip install sacrebleu"
        ) from e
    return sacrebleu


def _check_refs(predictions: Sequence[str], references: Sequence[Sequence[str]], what: str) -> None:
    if not references:
        raise ConfigError(f"{what}: give at least one reference set")
    for refs in references:
        if isinstance(refs, str):
            raise ConfigError(f"{what}: references must be a list of reference *sets* (lists)")
        _same_length(predictions, refs, what)


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU (0-100). ``references`` is a list of reference sets, each aligned with
    ``predictions`` (``[refs_A]`` or ``[refs_A, refs_B]``)."""
    _check_refs(predictions, references, "bleu")
    return float(_sacrebleu().corpus_bleu(list(predictions), [list(r) for r in references]).score)


def chrf(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus chrF (0-100), references as for ``bleu``.

    >>> round(chrf(["Guten Morgen"], [["Guten Morgen"]]), 1)
    100.0
    """
    _check_refs(predictions, references, "chrf")
    return float(_sacrebleu().corpus_chrf(list(predictions), [list(r) for r in references]).score)


def accuracy(gold: Sequence[Hashable], predicted: Sequence[Hashable]) -> float:
    """The share of items whose prediction equals the gold label."""
    _same_length(predicted, gold, "accuracy")
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def macro_f1(gold: Sequence[Hashable], predicted: Sequence[Hashable],
             labels: Sequence[Hashable] | None = None) -> float:
    """F1 averaged over ``labels`` (default: every gold or predicted label), each weighing the
    same; a label never predicted and never gold is left out, one never predicted scores 0."""
    _same_length(predicted, gold, "macro_f1")
    classes = list(labels) if labels is not None else sorted(set(gold) | set(predicted), key=str)
    f1s = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, predicted, strict=True))
        fp = sum(g != c and p == c for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == c and p != c for g, p in zip(gold, predicted, strict=True))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / len(f1s) if f1s else 0.0


__all__ = ["ROUGE_TYPES", "accuracy", "bleu", "chrf", "macro_f1", "rouge"]
