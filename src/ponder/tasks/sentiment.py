"""Sentiment analysis: a label and its confidence from the label log-probabilities.

A zero-shot classifier with a sentiment prompt and the labels ``positive, negative, neutral``
(change them with ``labels=``). The confidence is the softmax of the labels' log-probabilities
as the model's reply, over the label set (see ``ponder.tasks.scoring``).

>>> from ponder.llm.fake import ScriptedGenerator
>>> scores = {"positive": -0.3, "negative": -2.5, "neutral": -1.9}
>>> s = SentimentAnalyzer(model=ScriptedGenerator(logprobs=lambda p, c: scores.get(c, -9.0)))
>>> r = s("I love this tea!")
>>> r["label"], r["score"], list(r["scores"])
('positive', 0.761626, ['positive', 'neutral', 'negative'])
"""

from __future__ import annotations

from ponder.tasks.classify import ZeroShotClassifier

SENTIMENT_LABELS = ("positive", "negative", "neutral")
SENTIMENT_PROMPT = (
    "What is the sentiment of this text? Answer with one word: {labels}.\n\n"
    "Text: {text}"
)
SENTIMENT_HYPOTHESIS = "The sentiment of this text is {label}."


class SentimentAnalyzer(ZeroShotClassifier):
    """``pipeline("sentiment-analysis")``: ``{"label", "score", "scores"}`` per text."""

    task = "sentiment-analysis"
    default_labels = SENTIMENT_LABELS
    default_prompt = SENTIMENT_PROMPT
    default_hypothesis = SENTIMENT_HYPOTHESIS


__all__ = ["SENTIMENT_LABELS", "SentimentAnalyzer"]
