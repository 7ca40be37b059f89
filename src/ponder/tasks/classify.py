"""Zero-shot classification over any label set, by embedding similarity or by LLM log-likelihood.

``method="embedding"`` (default: it measured better than the LLM on a dev set of real tweets
with free labels, see ``docs/benchmarks.md``): the cosine between the text's embedding and
each hypothesis's (``hypothesis_template``, HF-style), softmax with ``similarity_temperature``
(0.05); for multi-label, a sigmoid of ``(cosine - similarity_threshold) /
similarity_temperature``: a heuristic, since a cosine is no probability. No generator is
loaded.

``method="llm"``: the prompt lists the labels and ends right before the answer; each
label's log-probability as the reply is scored (``ponder.tasks.scoring``) and a softmax over
the label set gives the confidence. With ``multi_label=True`` each label is an independent
yes/no question about the hypothesis ``"This text is about {label}."``, scored
``P(yes) / (P(yes) + P(no))``.

Every result has ``label`` and ``score`` (the best label), ``scores`` (every label, best
first), ``method`` and, for multi-label, ``labels`` (those scoring at least ``threshold``).

A model's label bias can be divided out (each probability over the prior, renormalised):
``calibrate=True`` measures the prior on content-free inputs (``N/A``, ``[MASK]``, empty;
Zhao et al. 2021); ``prior=`` gives it, and ``fit_prior(texts)`` measures it as the mean
predicted distribution over unlabeled texts from the same source (batch calibration, Zhou
et al. 2024), which measured better on TweetEval (``docs/benchmarks.md``).

>>> from ponder.embed.fake import HashEmbedder
>>> clf = ZeroShotClassifier(labels="sports,cooking", embedder=HashEmbedder(dim=256))
>>> r = clf("The football match ended in extra time; sports fans cheered.")
>>> r.label, sorted(r.scores) == ["cooking", "sports"], r.method
('sports', True, 'embedding')
>>> ZeroShotClassifier(labels="a,b", method="votes")
Traceback (most recent call last):
...
ponder.errors.ConfigError: method='votes': use one of embedding (similarity), llm (log-likelihood)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ponder.errors import ConfigError
from ponder.llm.base import Generator
from ponder.prompts.template import PromptTemplate
from ponder.tasks.base import PromptOptions, Task, TaskResult
from ponder.tasks.inputs import check_labels
from ponder.tasks.scoring import (
    NORMALIZATIONS,
    calibrate,
    label_logprobs,
    softmax,
    yes_probability,
)

METHODS = ("embedding", "llm")
CONTENT_FREE = ("N/A", "[MASK]", "")
DEFAULT_HYPOTHESIS = "This text is about {label}."
CLASSIFY_PROMPT = (
    "Classify the text into one of these categories: {labels}.\n\n"
    "Text: {text}\n\n"
    "Answer with the category only."
)
MULTI_PROMPT = (
    'Text: {text}\n\nIs this statement true of the text: "{hypothesis}"? Answer yes or no.'
)
RAW_SUFFIX = "\nAnswer:"
PROMPT_RESERVE = 48  # tokens kept free for the template's own text and the label


@dataclass(frozen=True, kw_only=True)
class ClassifyOptions(PromptOptions):
    """Options of ``ZeroShotClassifier``. ``labels`` (a list or ``"a,b"``) becomes a tuple of
    clean labels; ``method=None`` becomes the default (``embedding``)."""

    methods: ClassVar[tuple[str, ...]] = METHODS
    default_method: ClassVar[str] = "embedding"
    default_labels: ClassVar[tuple[str, ...]] = ()

    labels: Sequence[str] | str | None = None
    multi_label: bool = False
    method: str | None = None
    hypothesis_template: str | None = None
    normalize: str = "auto"
    calibrate: bool = False
    prior: Mapping[str, float] | Sequence[float] | None = None
    threshold: float = 0.5
    similarity_temperature: float = 0.05
    similarity_threshold: float = 0.25

    def __post_init__(self) -> None:
        method = self.method or self.default_method
        if method not in self.methods:
            what = {"llm": "llm (log-likelihood)", "embedding": "embedding (similarity)",
                    "head": "head (trained classifier)"}
            raise ConfigError(
                f"method={method!r}: use one of "
                + ", ".join(what[m] for m in sorted(self.methods))
            )
        labels = self.labels if self.labels is not None else self.default_labels
        if not labels:
            raise ConfigError(
                "zero-shot classification needs labels: pass labels=['a', 'b'] (--labels a,b)"
            )
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(
                f"normalize={self.normalize!r}: use one of {', '.join(NORMALIZATIONS)}"
            )
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold={self.threshold} must be between 0 and 1, e.g. 0.5")
        if self.similarity_temperature <= 0:
            raise ConfigError(
                f"similarity_temperature={self.similarity_temperature} must be > 0, e.g. 0.05"
            )
        if self.hypothesis_template is not None and PromptTemplate(
            self.hypothesis_template
        ).variables != ("label",):
            raise ConfigError(
                "hypothesis_template needs exactly one variable, {label}: e.g. "
                "'This text is about {label}.'"
            )
        labels = check_labels(labels, minimum=1 if self.multi_label else 2)
        self._set(method=method, labels=labels, prior=_check_prior(self.prior, labels))


@dataclass(frozen=True, eq=False)
class LabelResult(TaskResult):
    """The best ``label`` and its ``score``, every label's score (best first), for
    multi-label the ``labels`` at or above the threshold; ``truncated`` when the text was cut
    to fit the model's window."""

    label: str
    score: float
    scores: dict[str, float]
    labels: list[str] | None = None
    method: str = ""
    truncated: bool = False
    method_detail: str | None = None


class ZeroShotClassifier(Task[ClassifyOptions, LabelResult]):
    """``pipeline("zero-shot-classification", labels=[...])``: see the module doc."""

    task = "zero-shot-classification"
    options_type = ClassifyOptions
    primary = "labels"
    default_prompt = CLASSIFY_PROMPT
    default_hypothesis = DEFAULT_HYPOTHESIS
    raw_suffix = RAW_SUFFIX

    def _prepare(self) -> None:
        self.labels: tuple[str, ...] = tuple(self.options.labels or ())
        self.hypothesis = PromptTemplate(
            self.options.hypothesis_template or self.default_hypothesis
        )
        self._prior: list[float] | None = None
        self._hyp_vecs: np.ndarray | None = None

    # ------------------------------------------------------------ scoring

    def prompt_for(self, gen: Generator, text: str, hypothesis: str | None = None) -> str:
        """The prompt that scores ``text`` (with ``hypothesis``: the multi-label yes/no one)."""
        template = MULTI_PROMPT_T if hypothesis is not None else None
        return self.render(gen, template, text=text, labels=", ".join(self.labels),
                           hypothesis=hypothesis or "")

    def _llm_probs(self, text: str) -> list[float]:
        gen = self.generator
        o = self.options
        if o.multi_label:
            return [
                yes_probability(gen, self.prompt_for(gen, text, self._hyp(label)),
                                system=o.system, raw=o.raw)
                for label in self.labels
            ]
        scores = label_logprobs(gen, self.prompt_for(gen, text), self.labels, system=o.system,
                                raw=o.raw, normalize=o.normalize)
        return softmax(scores)

    def _hyp(self, label: str) -> str:
        return self.hypothesis.fill(label=label)

    def _embedding_sims(self, text: str) -> np.ndarray:
        emb = self.embedder
        if self._hyp_vecs is None:
            self._hyp_vecs = unit_rows(emb.embed([self._hyp(lab) for lab in self.labels]))
        vec = unit_rows(emb.embed([text]))[0]
        return self._hyp_vecs @ vec

    def _embedding_probs(self, text: str, sims: np.ndarray | None = None) -> list[float]:
        if sims is None:
            sims = self._embedding_sims(text)
        t = self.options.similarity_temperature
        if self.options.multi_label:
            return [_sigmoid((float(s) - self.options.similarity_threshold) / t) for s in sims]
        return softmax([float(s) for s in sims], temperature=t)

    def probabilities(self, text: str) -> list[float]:
        """One probability per label (in ``self.labels`` order), calibrated if asked."""
        llm = self.options.method == "llm"
        probs = self._llm_probs(text) if llm else self._embedding_probs(text)
        return self._calibrated(probs)

    def _calibrated(self, probs: list[float]) -> list[float]:
        if not (self.options.calibrate or self.options.prior is not None):
            return probs
        prior = self.prior()
        if self.options.multi_label:
            return [calibrate([p, 1 - p], [q, 1 - q])[0] for p, q in zip(probs, prior,
                                                                           strict=True)]
        return calibrate(probs, prior)

    def probabilities_batch(self, texts: Sequence[str]) -> np.ndarray:
        """``probabilities`` for many texts ``(n, n_labels)``; the embedding method embeds
        them in batches."""
        if self.options.method != "embedding":
            return np.array([self.probabilities(t) for t in texts])
        emb = self.embedder
        if self._hyp_vecs is None:
            self._hyp_vecs = unit_rows(emb.embed([self._hyp(lab) for lab in self.labels]))
        sims = unit_rows(emb.embed(list(texts))) @ self._hyp_vecs.T
        return np.array([self._calibrated(self._embedding_probs("", row)) for row in sims])

    def prior(self) -> list[float]:
        """The label bias divided out when calibrating: ``prior`` when given (or fitted by
        ``fit_prior``), else the label distribution for content-free inputs (``N/A``,
        ``[MASK]``, empty), averaged and computed once."""
        if self.options.prior is not None:
            return list(self.options.prior)
        if self._prior is None:
            runs = [
                self._llm_probs(cf) if self.options.method == "llm"
                else self._embedding_probs(cf or " ")
                for cf in CONTENT_FREE
            ]
            self._prior = [float(np.mean(col)) for col in zip(*runs, strict=True)]
        return self._prior

    def fit_prior(self, texts: Sequence[str]) -> ZeroShotClassifier:
        """A copy whose ``prior`` is the mean uncalibrated label distribution over ``texts``
        (unlabeled texts like those to classify, e.g. the training inputs): batch calibration.
        Sharing the loaded models.

        >>> from ponder.llm.fake import ScriptedGenerator
        >>> g = ScriptedGenerator(logprobs=lambda p, c: {"yes": -0.1}.get(c, -2.0))
        >>> clf = ZeroShotClassifier(labels="yes,no", method="llm", model=g)
        >>> clf("a").label, clf.fit_prior(["a", "b"])("a").score
        ('yes', 0.5)
        """
        texts = list(texts)
        if not texts:
            raise ConfigError("fit_prior needs at least one text to average over")
        plain = self.replace(calibrate=False, prior=None)
        if self.options.method != "llm":
            probs = plain.probabilities_batch(texts)
        else:
            probs = np.array([plain._window_probs(t)[0] for t in texts])
        return self.replace(prior=tuple(float(p) for p in probs.mean(0)))  # type: ignore[return-value]

    def _window_probs(self, text: str) -> tuple[list[float], bool]:
        """``probabilities`` of ``text`` cut to the model's window (llm), and whether it was."""
        truncated = False
        if self.options.method == "llm":
            gen = self.generator
            budget = self.text_budget(gen, reserve=PROMPT_RESERVE, labels=", ".join(self.labels))
            text, truncated = self.fit_text(gen, text, budget)
        return self.probabilities(text), truncated

    def _run(self, text: str) -> LabelResult:
        probs, truncated = self._window_probs(text)
        return self.result(probs, truncated=truncated)

    def result(self, probs: Sequence[float], *, truncated: bool = False) -> LabelResult:
        """The ``LabelResult`` for one probability per label (in ``self.labels`` order)."""
        order = sorted(range(len(self.labels)), key=lambda i: -probs[i])
        chosen = None
        if self.options.multi_label:
            chosen = [self.labels[i] for i in order if probs[i] >= self.options.threshold]
        detail = None
        if self.options.prior is not None:
            detail = "prior divided out: " + ", ".join(
                f"{lab} {q:.3f}" for lab, q in zip(self.labels, self.options.prior, strict=True))
        return LabelResult(
            label=self.labels[order[0]],
            score=round(float(probs[order[0]]), 6),
            scores={self.labels[i]: round(float(probs[i]), 6) for i in order},
            labels=chosen,
            method=str(self.options.method),
            truncated=truncated,
            method_detail=detail,
        )


MULTI_PROMPT_T = PromptTemplate(MULTI_PROMPT)


def unit_rows(x: Any) -> np.ndarray:
    """The rows of ``x`` scaled to unit length (float32; a zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _check_prior(prior: Mapping[str, float] | Sequence[float] | None,
                 labels: tuple[str, ...]) -> tuple[float, ...] | None:
    """``prior`` as one positive value per label, in ``labels`` order (a mapping by label
    name, any case, or a sequence in label order).

    >>> _check_prior({"No": 1, "yes": 3}, ("yes", "no"))
    (3.0, 1.0)
    """
    if prior is None:
        return None
    if isinstance(prior, Mapping):
        given = {" ".join(str(k).split()).lower(): v for k, v in prior.items()}
        if sorted(given) != sorted(lab.lower() for lab in labels):
            raise ConfigError(
                f"prior names the labels {', '.join(sorted(given))}; give one value for each "
                f"of {', '.join(labels)}"
            )
        values = [given[lab.lower()] for lab in labels]
    else:
        values = list(prior)
        if len(values) != len(labels):
            raise ConfigError(
                f"prior has {len(values)} values for {len(labels)} labels ({', '.join(labels)}): "
                "give one per label, in order, or a mapping label -> probability"
            )
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"prior values must be numbers, got {values!r}") from None
    if not all(math.isfinite(v) and v > 0 for v in out):
        raise ConfigError(f"prior values must be positive numbers, got {list(out)}")
    return out


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


__all__ = [
    "CLASSIFY_PROMPT",
    "DEFAULT_HYPOTHESIS",
    "METHODS",
    "ClassifyOptions",
    "LabelResult",
    "ZeroShotClassifier",
]
