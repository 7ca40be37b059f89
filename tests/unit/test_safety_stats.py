"""The statistics of the safety reports, checked against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ponder.errors import InputError
from ponder.safety.stats import (
    binomial_p,
    bootstrap_ci,
    partial_corr,
    partial_corr_ci,
    pearson,
    permutation_gap,
    rankdata,
    residualise,
    wilson_interval,
)


def test_partial_correlation_by_hand() -> None:
    # Two systems; within each, x = (-1, 0, 1) around its mean and y = (-1, 1, 0) around its
    # mean: residual products sum to 2, each residual vector has squared norm 4 -> r = 0.5,
    # while the raw correlation is dominated by the system offset of x.
    x = [1.0, 2.0, 3.0, 11.0, 12.0, 13.0]
    y = [1.0, 3.0, 2.0, 1.0, 3.0, 2.0]
    assert partial_corr(x, y, list("aaabbb")) == pytest.approx(0.5)
    assert pearson(x, y) == pytest.approx(0.0806, abs=1e-4)


def test_residuals_equal_least_squares_on_system_dummies() -> None:
    rng = np.random.default_rng(3)
    cats = rng.choice(["s1", "s2", "s3", "s4"], size=60).tolist()
    v = rng.normal(size=60)
    dummies = np.array([[c == s for s in ("s1", "s2", "s3", "s4")] for c in cats], dtype=float)
    coef, *_ = np.linalg.lstsq(dummies, v, rcond=None)
    np.testing.assert_allclose(residualise(v, cats), v - dummies @ coef, atol=1e-10)


def test_spearman_partial_is_rank_based() -> None:
    rng = np.random.default_rng(0)
    cats = ["a"] * 20 + ["b"] * 20
    x = rng.normal(size=40)
    y = x + rng.normal(scale=0.5, size=40)
    r = partial_corr(x, y, cats, method="spearman")
    # a monotonic transform of x changes Pearson but not Spearman
    assert partial_corr(np.exp(3 * x), y, cats, method="spearman") == pytest.approx(r)
    assert partial_corr(np.exp(3 * x), y, cats) != pytest.approx(partial_corr(x, y, cats))
    lo, hi = partial_corr_ci(x, y, cats, method="spearman", resamples=200)
    assert lo < r < hi
    with pytest.raises(InputError):
        partial_corr(x, y, cats, method="kendall")


def test_rankdata_averages_ties_and_constant_input_gives_nan() -> None:
    assert rankdata([3, 1, 3, 2]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_bootstrap_interval_is_seeded_and_shrinks_with_data() -> None:
    small = [0.0, 1.0] * 10
    assert bootstrap_ci(small, seed=4) == bootstrap_ci(small, seed=4)
    lo, hi = bootstrap_ci(small)
    lo2, hi2 = bootstrap_ci(small * 20)
    assert lo < 0.5 < hi and lo2 < 0.5 < hi2 and hi2 - lo2 < hi - lo
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([0.3]) == (pytest.approx(0.3), pytest.approx(0.3))


def test_permutation_gap_finds_real_gaps_only() -> None:
    rng = np.random.default_rng(1)
    same = {"a": rng.normal(size=40), "b": rng.normal(size=40), "c": rng.normal(size=40)}
    t = permutation_gap({k: v.tolist() for k, v in same.items()}, permutations=500)
    assert t.p_value > 0.05
    apart = {"a": (rng.normal(size=40) + 2).tolist(), "b": rng.normal(size=40).tolist()}
    t = permutation_gap(apart, permutations=500)
    assert (t.highest, t.lowest) == ("a", "b")
    assert 0 < t.p_value < 0.01  # the +1 correction: never exactly 0
    with pytest.raises(InputError, match="at least two groups"):
        permutation_gap({"a": [1.0], "b": []})


def test_wilson_and_binomial_known_values() -> None:
    assert wilson_interval(5, 10) == (0.2366, 0.7634)
    assert wilson_interval(0, 10)[0] == 0.0
    assert binomial_p(9, 10) == pytest.approx(22 / 1024)  # 2 * (C(10,9) + C(10,10)) / 2^10
    assert binomial_p(5, 10) == pytest.approx(1.0)
    assert binomial_p(0, 0) == 1.0
