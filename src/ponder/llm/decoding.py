"""Choosing the next token from a model's logits: greedy, sampling, penalties, traces.

Every logits-based backend (llama.cpp, transformers, the toy table model) decodes through
this module, so a strategy means the same thing on each of them.

Order of operations (Hugging Face's): repetition penalty on the logits, then temperature,
then top-k, then top-p over what is left; sample from the renormalised rest. The log-probability
reported for a token is the model's (after the repetition penalty, at temperature 1), so that
the total log-probability of sequences found by different strategies can be compared.

>>> import numpy as np
>>> logits = np.log(np.array([0.5, 0.3, 0.2], dtype=np.float32))
>>> ids, probs = sampling_distribution(logits, temperature=1.0, top_k=0, top_p=0.7)
>>> ids.tolist(), np.round(probs, 3).tolist()
([0, 1], [0.625, 0.375])
>>> d = Decoder(GenerationConfig(strategy="greedy").validate())
>>> c = d.choose(logits)
>>> c.token_id, round(c.logprob, 4)
(0, -0.6931)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ponder.llm.config import GenerationConfig
from ponder.llm.explain import Candidate, DecodingTrace, StepTrace

# Above this vocabulary size top-p first tries the best ``_NUCLEUS_PROBE`` tokens before sorting
# the whole vocabulary (sorting 49k floats per token costs more than evaluating a small model).
_NUCLEUS_PROBE = 1024


def log_softmax(x: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis, in float64.

    >>> np.round(np.exp(log_softmax(np.array([0.0, 0.0]))), 2).tolist()
    [0.5, 0.5]
    """
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # type: ignore[no-any-return]


def logsumexp(x: np.ndarray) -> float:
    """``log(sum(exp(x)))``, stable; float32 arithmetic is plenty for a log-probability."""
    m = x.max()
    return float(m) + float(np.log(np.exp(x - m).sum(dtype=np.float64)))


def apply_repetition_penalty(logits: np.ndarray, ids: np.ndarray, penalty: float) -> np.ndarray:
    """CTRL's rule: divide positive logits of tokens seen before by ``penalty``, multiply
    negative ones; returns a new array (``logits`` is left alone).

    >>> apply_repetition_penalty(np.array([2.0, -1.0, 3.0]), np.array([0, 1]), 2.0).tolist()
    [1.0, -2.0, 3.0]
    """
    out = np.array(logits, dtype=np.float32, copy=True)
    if penalty == 1.0 or len(ids) == 0:
        return out
    vals = out[ids]
    out[ids] = np.where(vals > 0, vals / penalty, vals * penalty)
    return out


def sampling_distribution(
    logits: np.ndarray, *, temperature: float, top_k: int, top_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """The tokens that may be sampled and their probabilities (summing to 1), best first.

    Temperature divides the logits; ``top_k`` (0 = off) keeps the k most probable tokens;
    ``top_p`` (1 = off) keeps the smallest set of most probable tokens whose probability
    reaches ``top_p``. At least one token is always kept.
    """
    x = np.asarray(logits, dtype=np.float64) / max(temperature, 1e-6)
    n = len(x)
    if top_k and top_k < n:
        ids = np.argpartition(x, -top_k)[-top_k:]
    elif top_p < 1.0 and n > 4 * _NUCLEUS_PROBE:
        probe = np.argpartition(x, -_NUCLEUS_PROBE)[-_NUCLEUS_PROBE:]
        total = logsumexp(x)
        if float(np.exp(x[probe] - total).sum()) >= top_p:
            # the probe holds the whole nucleus: no need to sort the full vocabulary
            order = probe[np.argsort(-x[probe], kind="stable")]
            probs = np.exp(x[order] - total)
            keep = int(np.searchsorted(np.cumsum(probs), top_p - 1e-12)) + 1
            order, probs = order[:keep], probs[:keep]
            return order, probs / probs.sum()
        ids = np.arange(n)
    else:
        ids = np.arange(n)
    order = ids[np.argsort(-x[ids], kind="stable")]
    vals = x[order]
    probs = np.exp(vals - vals.max())
    probs /= probs.sum()
    if top_p < 1.0:
        keep = int(np.searchsorted(np.cumsum(probs), top_p - 1e-12)) + 1
        order, probs = order[:keep], probs[:keep]
        probs = probs / probs.sum()
    return order, probs


@dataclass(frozen=True)
class Choice:
    """The token chosen at one step and its model log-probability."""

    token_id: int
    logprob: float


class Decoder:
    """Per-generation decoding state: the config, the random generator, the tokens seen so far
    (for the repetition penalty) and, optionally, a trace of every step.

    ``exempt`` token ids (end-of-sequence tokens) are never penalised, so a penalty cannot stop
    the model from ending its reply.
    """

    def __init__(
        self,
        config: GenerationConfig,
        *,
        history: Sequence[int] = (),
        exempt: Iterable[int] = (),
        trace: DecodingTrace | None = None,
        token_text: Callable[[int], str] | None = None,
    ) -> None:
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self._exempt = set(exempt)
        self._seen: set[int] = set()
        self._seen_ids = np.zeros(0, dtype=np.int64)
        self.trace = trace
        self.token_text = token_text or str
        for t in history:
            self._add_seen(t)
        self._flush_seen()

    def _add_seen(self, token_id: int) -> bool:
        if token_id in self._exempt or token_id in self._seen:
            return False
        self._seen.add(token_id)
        return True

    def _flush_seen(self) -> None:
        self._seen_ids = np.fromiter(self._seen, dtype=np.int64, count=len(self._seen))

    def accept(self, token_id: int) -> None:
        """Record a generated token (for the repetition penalty)."""
        if self.config.repetition_penalty != 1.0 and self._add_seen(token_id):
            self._flush_seen()

    def fork(self, token_id: int) -> Decoder:
        """A copy that has also seen ``token_id`` (one per beam hypothesis)."""
        d = Decoder.__new__(Decoder)
        d.__dict__.update(self.__dict__)
        d._seen = set(self._seen)
        d.accept(token_id)
        return d

    def penalize(self, logits: np.ndarray) -> np.ndarray:
        if self.config.repetition_penalty == 1.0:
            return logits
        return apply_repetition_penalty(logits, self._seen_ids, self.config.repetition_penalty)

    def choose(self, logits: np.ndarray) -> Choice:
        """Pick the next token from one row of logits (``accept`` it afterwards)."""
        cfg = self.config
        x = self.penalize(np.asarray(logits))
        norm = logsumexp(x)
        if cfg.samples:
            ids, probs = sampling_distribution(
                x, temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p
            )
            k = int(self.rng.choice(len(ids), p=probs)) if len(ids) > 1 else 0
            token = int(ids[k])
            sample_probs = dict(zip(ids[:64].tolist(), probs[:64].tolist(), strict=True))
        else:
            token = int(np.argmax(x))
            sample_probs = None
        choice = Choice(token, float(x[token]) - norm)
        if self.trace is not None:
            self._record(x, norm, choice, sample_probs)
        return choice

    def _record(
        self, x: np.ndarray, norm: float, choice: Choice, sample_probs: dict[int, float] | None
    ) -> None:
        assert self.trace is not None
        n = max(1, self.trace.top_n)
        top = np.argpartition(x, -n)[-n:] if len(x) > n else np.arange(len(x))
        top = top[np.argsort(-x[top], kind="stable")]

        def cand(t: int) -> Candidate:
            sp = None if sample_probs is None else sample_probs.get(t, 0.0)
            return Candidate(t, self.token_text(t), float(np.exp(x[t] - norm)), sp)

        cands = [cand(int(t)) for t in top]
        self.trace.steps.append(
            StepTrace(len(self.trace.steps), cands, cand(choice.token_id))
        )


__all__ = [
    "Choice",
    "Decoder",
    "apply_repetition_penalty",
    "log_softmax",
    "logsumexp",
    "sampling_distribution",
]
