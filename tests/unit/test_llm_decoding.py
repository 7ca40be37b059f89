from __future__ import annotations

import numpy as np
import pytest

from ponder.llm.config import GenerationConfig
from ponder.llm.decoding import (
    Decoder,
    apply_repetition_penalty,
    log_softmax,
    sampling_distribution,
)
from ponder.llm.explain import DecodingTrace


def _logits(probs: list[float]) -> np.ndarray:
    return np.log(np.asarray(probs, dtype=np.float64)).astype(np.float32)


def test_log_softmax_normalises() -> None:
    lp = log_softmax(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0)


def test_top_k_keeps_k_best_in_order() -> None:
    ids, probs = sampling_distribution(
        _logits([0.1, 0.4, 0.2, 0.3]), temperature=1.0, top_k=2, top_p=1.0
    )
    assert ids.tolist() == [1, 3]
    assert np.allclose(probs, [0.4 / 0.7, 0.3 / 0.7])


def test_top_p_keeps_smallest_set_reaching_p_and_at_least_one() -> None:
    lg = _logits([0.5, 0.3, 0.15, 0.05])
    ids, _ = sampling_distribution(lg, temperature=1.0, top_k=0, top_p=0.8)
    assert ids.tolist() == [0, 1]
    ids, _ = sampling_distribution(lg, temperature=1.0, top_k=0, top_p=0.81)
    assert ids.tolist() == [0, 1, 2]
    ids, probs = sampling_distribution(lg, temperature=1.0, top_k=0, top_p=0.01)
    assert ids.tolist() == [0] and probs.tolist() == [1.0]


def test_top_k_then_top_p_combine() -> None:
    lg = _logits([0.35, 0.3, 0.2, 0.15])
    ids, probs = sampling_distribution(lg, temperature=1.0, top_k=3, top_p=0.6)
    # within the top 3 (renormalised 0.41, 0.35, 0.24) the nucleus of 0.6 holds two tokens
    assert ids.tolist() == [0, 1]
    assert probs.sum() == pytest.approx(1.0)


def test_temperature_sharpens_and_flattens() -> None:
    lg = _logits([0.6, 0.4])
    _, cold = sampling_distribution(lg, temperature=0.5, top_k=0, top_p=1.0)
    _, hot = sampling_distribution(lg, temperature=2.0, top_k=0, top_p=1.0)
    assert cold[0] > 0.6 > hot[0] > 0.5


def test_large_vocabulary_nucleus_matches_full_sort() -> None:
    rng = np.random.default_rng(0)
    lg = (rng.standard_normal(50_000) * 4).astype(np.float32)
    ids, probs = sampling_distribution(lg, temperature=0.7, top_k=0, top_p=0.9)
    x = lg.astype(np.float64) / 0.7
    order = np.argsort(-x)
    p = np.exp(x[order] - x.max())
    p /= p.sum()
    keep = int(np.searchsorted(np.cumsum(p), 0.9)) + 1
    assert ids.tolist() == order[:keep].tolist()
    assert np.allclose(probs, p[:keep] / p[:keep].sum())


def test_repetition_penalty_follows_ctrl_rule() -> None:
    out = apply_repetition_penalty(np.array([2.0, -2.0, 1.0]), np.array([0, 1]), 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0]


def test_decoder_greedy_and_penalty_changes_choice() -> None:
    lg = _logits([0.5, 0.45, 0.05])
    assert Decoder(GenerationConfig().validate()).choose(lg).token_id == 0
    d = Decoder(GenerationConfig(repetition_penalty=1.5).validate(), history=[0])
    # log(0.5) is negative: the penalty multiplies it, making token 0 less likely than 1
    assert d.choose(lg).token_id == 1


def test_end_of_sequence_is_exempt_from_the_penalty() -> None:
    lg = _logits([0.6, 0.4])
    d = Decoder(GenerationConfig(repetition_penalty=3.0).validate(), history=[0], exempt=[0])
    assert d.choose(lg).token_id == 0


def test_sampling_is_seeded_and_follows_the_distribution() -> None:
    lg = _logits([0.7, 0.2, 0.1])
    cfg = GenerationConfig(strategy="sample", temperature=1.0, seed=7).validate()
    a = [Decoder(cfg).choose(lg).token_id for _ in range(5)]
    d1, d2 = Decoder(cfg), Decoder(cfg)
    draws1 = [d1.choose(lg).token_id for _ in range(2000)]
    draws2 = [d2.choose(lg).token_id for _ in range(2000)]
    assert draws1 == draws2  # same seed, same draws
    assert len(set(a)) == 1  # a fresh decoder with the same seed starts the same way
    freq = np.bincount(draws1, minlength=3) / 2000
    assert np.allclose(freq, [0.7, 0.2, 0.1], atol=0.04)
    other = Decoder(cfg.replace(seed=8))
    assert [other.choose(lg).token_id for _ in range(2000)] != draws1


def test_reported_logprob_is_the_models_not_the_tempered_one() -> None:
    lg = _logits([0.6, 0.4])
    cfg = GenerationConfig(strategy="sample", temperature=0.1, seed=0).validate()
    c = Decoder(cfg).choose(lg)
    assert c.logprob == pytest.approx(np.log([0.6, 0.4])[c.token_id], abs=1e-5)


def test_trace_records_candidates_and_choice() -> None:
    trace = DecodingTrace(strategy="sample", top_n=2)
    cfg = GenerationConfig(strategy="sample", temperature=1.0, top_k=2, seed=1).validate()
    d = Decoder(cfg, trace=trace, token_text=lambda t: f"t{t}")
    c = d.choose(_logits([0.5, 0.3, 0.2]))
    step = trace.steps[0]
    assert [x.text for x in step.candidates] == ["t0", "t1"]
    assert step.chosen.token_id == c.token_id
    assert step.candidates[0].prob == pytest.approx(0.5, abs=1e-5)
    assert step.candidates[0].sample_prob == pytest.approx(0.5 / 0.8, abs=1e-5)
