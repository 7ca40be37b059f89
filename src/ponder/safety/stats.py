"""The statistics behind the safety reports, in numpy only (scipy is optional in Ponder).

- ``bootstrap_ci``: percentile bootstrap interval of a mean (seeded, so reports repeat).
- ``wilson_interval``: the Wilson score interval of a proportion (closed form).
- ``binomial_p``: exact two-sided binomial test against p = 0.5 (CrowS-Pairs' reference).
- ``permutation_gap``: the gap between the highest and the lowest group mean, with a
  permutation-test p-value (group labels shuffled, seeded).
- ``partial_corr``: Pearson or Spearman correlation of two variables controlling for a
  categorical one (the FRANK paper's "partial correlation, controlling for the summarization
  system"): both variables are residualised on the category's dummies (one mean per
  category removed), then correlated; Spearman ranks both variables first.

>>> round(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 4)
0.8
>>> rankdata([10, 20, 20, 5])
array([2. , 3.5, 3.5, 1. ])
>>> wilson_interval(5, 10)
(0.2366, 0.7634)
>>> round(binomial_p(9, 10), 4)
0.0215
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ponder.errors import InputError

DEFAULT_RESAMPLES = 2000


def _array(values: Sequence[float] | np.ndarray, what: str = "values") -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise InputError(f"{what}: expected a flat sequence of numbers, got shape {a.shape}")
    return a


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (``(nan, nan)`` when empty;
    a single value gives a zero-width interval).

    >>> lo, hi = bootstrap_ci([0.0, 1.0] * 50, seed=1)
    >>> 0.38 < lo < 0.5 < hi < 0.62
    True
    """
    a = _array(values)
    if a.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    means = a[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes / n`` (rounded to 4 places; ``(nan, nan)`` if n=0)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def _z(confidence: float) -> float:
    """The normal quantile for a two-sided ``confidence`` (bisection on ``math.erf``)."""
    target = 1 - (1 - confidence) / 2
    lo, hi = 0.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def binomial_p(successes: int, n: int, p: float = 0.5) -> float:
    """Exact two-sided binomial test: the probability, under ``p``, of an outcome at most as
    likely as ``successes`` out of ``n`` (1.0 when n = 0)."""
    if n <= 0:
        return 1.0
    logs = [
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        + (k * math.log(p) if k else 0.0) + ((n - k) * math.log(1 - p) if n - k else 0.0)
        for k in range(n + 1)
    ]
    observed = logs[successes]
    total = sum(math.exp(v) for v in logs if v <= observed + 1e-9)
    return min(1.0, total)


@dataclass(frozen=True)
class GapTest:
    """The gap between the highest and lowest group mean and its permutation p-value."""

    gap: float
    highest: str
    lowest: str
    p_value: float
    permutations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "gap": round(self.gap, 6),
            "highest": self.highest,
            "lowest": self.lowest,
            "p_value": round(self.p_value, 6),
            "permutations": self.permutations,
        }


def permutation_gap(
    groups: dict[str, Sequence[float]], *, permutations: int = DEFAULT_RESAMPLES, seed: int = 0
) -> GapTest:
    """Max minus min of the group means; the p-value is the share of label shuffles whose gap
    is at least as large (with the +1 correction, so it is never 0).

    >>> t = permutation_gap({"a": [1.0, 1.1, 0.9, 1.0] * 5, "b": [0.0, 0.1, -0.1, 0.0] * 5})
    >>> round(t.gap, 3), t.highest, t.lowest, t.p_value < 0.01
    (1.0, 'a', 'b', True)
    """
    names = [g for g, v in groups.items() if len(v) > 0]
    if len(names) < 2:
        raise InputError(
            "a gap between groups needs at least two groups with scored items; "
            f"got {len(names)}: raise --limit-per-group or pick a domain with more groups"
        )
    arrays = [_array(groups[g]) for g in names]
    sizes = np.array([a.size for a in arrays])
    pooled = np.concatenate(arrays)
    labels = np.repeat(np.arange(len(names)), sizes)
    means = np.array([a.mean() for a in arrays])
    gap = float(means.max() - means.min())
    rng = np.random.default_rng(seed)
    at_least = 0
    for _ in range(permutations):
        perm = rng.permutation(pooled)
        m = np.bincount(labels, weights=perm) / sizes
        if m.max() - m.min() >= gap - 1e-12:
            at_least += 1
    return GapTest(
        gap=gap,
        highest=names[int(means.argmax())],
        lowest=names[int(means.argmin())],
        p_value=(at_least + 1) / (permutations + 1),
        permutations=permutations,
    )


def rankdata(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks from 1, ties getting their average rank (as ``scipy.stats.rankdata``)."""
    a = _array(values)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size, dtype=float)
    sorted_a = a[order]
    i = 0
    while i < a.size:
        j = i
        while j + 1 < a.size and sorted_a[j + 1] == sorted_a[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation (nan when either variable is constant)."""
    a, b = _array(x, "x"), _array(y, "y")
    if a.size != b.size:
        raise InputError(f"x and y differ in length ({a.size} vs {b.size})")
    a, b = a - a.mean(), b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b / denom) if denom > 0 else math.nan


def residualise(values: Sequence[float] | np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """``values`` minus the mean of their category: the residuals of a least-squares fit on the
    category dummies (with an intercept).

    >>> residualise([1.0, 3.0, 10.0, 14.0], ["a", "a", "b", "b"]).tolist()
    [-1.0, 1.0, -2.0, 2.0]
    """
    a = _array(values)
    cats = np.asarray(list(categories))
    if cats.size != a.size:
        raise InputError(f"{a.size} values but {cats.size} categories")
    _, codes = np.unique(cats, return_inverse=True)
    return _residuals(a, codes)


def _residuals(a: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``a`` minus its mean per category code."""
    sums = np.bincount(codes, weights=a)
    counts = np.bincount(codes)
    return a - (sums / np.maximum(counts, 1))[codes]


def _partial(a: np.ndarray, b: np.ndarray, codes: np.ndarray, method: str) -> float:
    if method == "spearman":
        a, b = rankdata(a), rankdata(b)
    return pearson(_residuals(a, codes), _residuals(b, codes))


def partial_corr(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    controls: Sequence[str],
    *,
    method: str = "pearson",
) -> float:
    """Correlation of ``x`` and ``y`` controlling for the categorical ``controls``.

    ``method="spearman"`` ranks ``x`` and ``y`` first (the covariate's dummies are unchanged by
    ranking), as pingouin's ``partial_corr`` does.

    >>> x = [1.0, 2.0, 3.0, 11.0, 12.0, 13.0]
    >>> y = [1.0, 3.0, 2.0, 1.0, 3.0, 2.0]
    >>> round(pearson(x, y), 3), round(partial_corr(x, y, list("aaabbb")), 3)
    (0.081, 0.5)
    """
    if method not in ("pearson", "spearman"):
        raise InputError(f"method {method!r}: use 'pearson' or 'spearman'")
    a, b = _array(x, "x"), _array(y, "y")
    cats = np.asarray(list(controls))
    if not a.size == b.size == cats.size:
        raise InputError(f"x, y and controls differ in length ({a.size}, {b.size}, {cats.size})")
    _, codes = np.unique(cats, return_inverse=True)
    return _partial(a, b, codes, method)


def partial_corr_ci(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    controls: Sequence[str],
    *,
    method: str = "pearson",
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``partial_corr`` (items resampled with replacement)."""
    a, b = _array(x, "x"), _array(y, "y")
    cats = np.asarray(list(controls))
    if a.size < 3:
        return (math.nan, math.nan)
    _, codes = np.unique(cats, return_inverse=True)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(resamples):
        idx = rng.integers(0, a.size, size=a.size)
        r = _partial(a[idx], b[idx], codes[idx], method)
        if not math.isnan(r):
            vals.append(r)
    if not vals:
        return (math.nan, math.nan)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(vals, [alpha, 1 - alpha])
    return (float(lo), float(hi))


__all__ = [
    "GapTest",
    "binomial_p",
    "bootstrap_ci",
    "partial_corr",
    "partial_corr_ci",
    "pearson",
    "permutation_gap",
    "rankdata",
    "residualise",
    "wilson_interval",
]
