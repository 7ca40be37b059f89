"""Sentiment analysis: a trained classifier head by default, or label scoring by the LLM.

- ``method="head"`` (default): a logistic regression on the shipped SmolLM2-135M's mean hidden
  state after layer 15 (``ponder.embed.llm_hidden``, through transformers; no text is
  generated), trained on TweetEval sentiment ``val`` and temperature-calibrated on held-out
  tweets (``ponder/data/heads/sentiment.npz``, written by ``scripts/train_heads.py``). It
  measured best on TweetEval sentiment test, ahead of the same head on all-MiniLM-L6-v2
  embeddings (``docs/benchmarks.md``). Labels: ``negative, neutral, positive``.
- ``method="llm"``: a zero-shot classifier with a sentiment prompt; the confidence is the
  softmax of the labels' log-probabilities as the model's reply (``ponder.tasks.scoring``).
  Any labels (``labels=``).
- ``method="embedding"``: cosine to ``"The sentiment of this text is {label}."``.

Every result names the method that ran (``method``, and ``method_detail`` for the head).

>>> from ponder.llm.fake import ScriptedGenerator
>>> scores = {"positive": -0.3, "negative": -2.5, "neutral": -1.9}
>>> g = ScriptedGenerator(logprobs=lambda p, c: scores.get(c, -9.0))
>>> r = SentimentAnalyzer(method="llm", model=g)("I love this tea!")
>>> r.label, r.score, list(r.scores), r.method
('positive', 0.761626, ['positive', 'neutral', 'negative'], 'llm')
>>> SentimentAnalyzer(labels="good,bad")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: the sentiment head knows the labels negative, neutral, positive...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ponder.errors import ConfigError
from ponder.tasks.classify import ClassifyOptions, LabelResult, ZeroShotClassifier
from ponder.tasks.head import EmbeddingHead, shipped_head

SENTIMENT_LABELS = ("positive", "negative", "neutral")
HEAD_LABELS = ("negative", "neutral", "positive")
SENTIMENT_PROMPT = (
    "What is the sentiment of this text? Answer with one word: {labels}.\n\n"
    "Text: {text}"
)
SENTIMENT_HYPOTHESIS = "The sentiment of this text is {label}."


@dataclass(frozen=True, kw_only=True)
class SentimentOptions(ClassifyOptions):
    """Options of ``SentimentAnalyzer``: those of ``ClassifyOptions`` with sentiment defaults,
    and ``head`` (another ``EmbeddingHead``; default: the shipped TweetEval one)."""

    methods: ClassVar[tuple[str, ...]] = ("head", "llm", "embedding")
    default_method: ClassVar[str] = "head"
    default_labels: ClassVar[tuple[str, ...]] = SENTIMENT_LABELS

    head: EmbeddingHead | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.method or self.default_method) == "head":
            if self.multi_label:
                raise ConfigError(
                    "the sentiment head gives one label per text: multi_label needs "
                    "method='llm' or 'embedding'"
                )
            if self.calibrate or self.prior is not None:
                raise ConfigError(
                    "the sentiment head is calibrated already (temperature scaling on held-out "
                    "tweets): --calibrate and --prior-from apply to --method llm or embedding"
                )
            known = self.head.labels if self.head is not None else HEAD_LABELS
            if self.labels is None:
                self._set(labels=tuple(known))
            else:
                given = self.labels.split(",") if isinstance(self.labels, str) else self.labels
                if sorted(" ".join(str(x).split()).lower() for x in given) != sorted(known):
                    raise ConfigError(
                        f"the sentiment head knows the labels {', '.join(known)}; for other "
                        "labels use method='llm' or 'embedding' (--method llm)"
                    )
        super().__post_init__()


class SentimentAnalyzer(ZeroShotClassifier):
    """``pipeline("sentiment-analysis")``: a ``LabelResult`` per text (see the module doc)."""

    task = "sentiment-analysis"
    options_type = SentimentOptions
    default_prompt = SENTIMENT_PROMPT
    default_hypothesis = SENTIMENT_HYPOTHESIS

    def _prepare(self) -> None:
        super()._prepare()
        self._head = getattr(self.options, "head", None)
        self._checked = False

    @property
    def head(self) -> EmbeddingHead:
        """The classifier head, loaded on first use."""
        if self._head is None:
            self._head = shipped_head("sentiment")
        return self._head

    @property
    def embedder(self) -> Any:
        """The embedder: the one given, else (head) the head's own, else the settings'."""
        if self.options.method == "head" and self._embedder is None:
            self._embedder = self.head.embedder()
        return ZeroShotClassifier.embedder.fget(self)  # type: ignore[attr-defined]

    def _head_probs(self, vecs: np.ndarray) -> np.ndarray:
        head = self.head
        if not self._checked:
            head.check_embedder(self.embedder)
            self._checked = True
        probs = head.predict_proba(vecs)
        order = [head.labels.index(lab.lower()) for lab in self.labels]
        return probs[:, order]

    def probabilities(self, text: str) -> list[float]:
        if self.options.method != "head":
            return super().probabilities(text)
        return [float(p) for p in self._head_probs(self.embedder.embed([text]))[0]]

    def probabilities_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Label probabilities ``(n, n_labels)`` for many texts, embedded in batches."""
        if self.options.method != "head":
            return super().probabilities_batch(texts)
        return self._head_probs(self.embedder.embed(list(texts)))

    def result(self, probs: Sequence[float], *, truncated: bool = False) -> LabelResult:
        out = super().result(probs, truncated=truncated)
        if self.options.method != "head":
            return out
        return replace(out, method_detail=self.head.describe())


__all__ = ["HEAD_LABELS", "SENTIMENT_LABELS", "SentimentAnalyzer", "SentimentOptions"]
