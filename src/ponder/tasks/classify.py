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

>>> from ponder.embed.fake import HashEmbedder
>>> clf = ZeroShotClassifier(labels="sports,cooking", embedder=HashEmbedder(dim=256))
>>> r = clf("The football match ended in extra time; sports fans cheered.")
>>> r["label"], sorted(r["scores"]) == ["cooking", "sports"], r["method"]
('sports', True, 'embedding')
>>> ZeroShotClassifier(labels="a,b", method="votes")
Traceback (most recent call last):
...
ponder.errors.ConfigError: method='votes': use one of embedding (similarity), llm (log-likelihood)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ponder.errors import ConfigError
from ponder.llm.base import Generator
from ponder.prompts.template import PromptTemplate
from ponder.tasks.base import ModelLike, Result, Task
from ponder.tasks.scoring import (
    NORMALIZATIONS,
    calibrate,
    label_logprobs,
    softmax,
    yes_probability,
)
from ponder.tasks.text import check_labels

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


class ZeroShotClassifier(Task):
    """``pipeline("zero-shot-classification", labels=[...])``: see the module doc."""

    task = "zero-shot-classification"
    methods: tuple[str, ...] = METHODS
    default_method = "embedding"
    default_labels: tuple[str, ...] = ()
    default_prompt = CLASSIFY_PROMPT
    default_hypothesis = DEFAULT_HYPOTHESIS

    def __init__(
        self,
        labels: Sequence[str] | str | None = None,
        *,
        multi_label: bool = False,
        method: str | None = None,
        prompt: str | None = None,
        hypothesis_template: str | None = None,
        normalize: str = "auto",
        calibrate: bool = False,
        threshold: float = 0.5,
        similarity_temperature: float = 0.05,
        similarity_threshold: float = 0.25,
        system: str | None = None,
        raw: bool = False,
        model: ModelLike = None,
        embedder: Any = None,
        **generation: Any,
    ) -> None:
        method = method or self.default_method
        self._remember(
            labels=labels, multi_label=multi_label, method=method, prompt=prompt,
            hypothesis_template=hypothesis_template, normalize=normalize, calibrate=calibrate,
            threshold=threshold, similarity_temperature=similarity_temperature,
            similarity_threshold=similarity_threshold, system=system, raw=raw,
        )
        super().__init__(model=model, embedder=embedder, **generation)
        if labels is None:
            if not self.default_labels:
                raise ConfigError(
                    "zero-shot classification needs labels: pass labels=['a', 'b'] "
                    "(--labels a,b)"
                )
            labels = list(self.default_labels)
        self.labels = check_labels(labels, minimum=1 if multi_label else 2)
        if method not in self.methods:
            what = {"llm": "llm (log-likelihood)", "embedding": "embedding (similarity)",
                    "head": "head (trained classifier)"}
            raise ConfigError(
                f"method={method!r}: use one of "
                + ", ".join(what[m] for m in sorted(self.methods))
            )
        if normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize={normalize!r}: use one of {', '.join(NORMALIZATIONS)}")
        if not 0 < threshold < 1:
            raise ConfigError(f"threshold={threshold} must be between 0 and 1, e.g. 0.5")
        if similarity_temperature <= 0:
            raise ConfigError(
                f"similarity_temperature={similarity_temperature} must be > 0, e.g. 0.05"
            )
        self.multi_label = multi_label
        self.method = method
        self.prompt = PromptTemplate(prompt or self.default_prompt)
        if "text" not in self.prompt.variables:
            raise ConfigError("the classification prompt needs a {text} variable")
        self.hypothesis = PromptTemplate(hypothesis_template or self.default_hypothesis)
        if self.hypothesis.variables != ("label",):
            raise ConfigError(
                "hypothesis_template needs exactly one variable, {label}: e.g. "
                "'This text is about {label}.'"
            )
        self.normalize = normalize
        self.calibrate = calibrate
        self.threshold = threshold
        self.similarity_temperature = similarity_temperature
        self.similarity_threshold = similarity_threshold
        self.system = system
        self.raw = raw
        self._prior: list[float] | None = None
        self._hyp_vecs: np.ndarray | None = None

    # ------------------------------------------------------------ prompts

    def _fill(self, template: PromptTemplate, text: str, **extra: str) -> str:
        values = {"text": text, "labels": ", ".join(self.labels), **extra}
        return template.fill(**{k: v for k, v in values.items() if k in template.variables})

    def _prompt_text(self, body: str, gen: Generator) -> str:
        if self.raw or not gen.has_chat_template:
            return body + RAW_SUFFIX
        return body

    def _fit(self, text: str, gen: Generator) -> tuple[str, bool]:
        """Cut ``text`` (keeping its start) so that the prompt fits the context window."""
        try:
            window = gen.context_window
            n = gen.count_tokens(text)
        except Exception:
            return text, False
        overhead = gen.count_tokens(self._fill(self.prompt, "")) + PROMPT_RESERVE
        if self.system:
            overhead += gen.count_tokens(self.system)
        budget = window - overhead
        if window <= 0 or n <= budget:
            return text, False
        if budget < 16:
            raise ConfigError(
                f"the classification prompt leaves no room for text in the context window of "
                f"{window} tokens: shorten the prompt or the labels"
            )
        cut = text
        while gen.count_tokens(cut) > budget and cut:
            cut = cut[: int(len(cut) * budget / max(gen.count_tokens(cut), 1) * 0.95)]
        return cut, True

    # ------------------------------------------------------------ scoring

    def _llm_probs(self, text: str) -> list[float]:
        gen = self.generator
        if self.multi_label:
            return [
                yes_probability(
                    gen,
                    self._prompt_text(
                        self._fill(MULTI_PROMPT_T, text, hypothesis=self._hyp(label)), gen
                    ),
                    system=self.system,
                    raw=self.raw,
                )
                for label in self.labels
            ]
        scores = label_logprobs(
            gen, self._prompt_text(self._fill(self.prompt, text), gen), self.labels,
            system=self.system, raw=self.raw, normalize=self.normalize,
        )
        return softmax(scores)

    def _hyp(self, label: str) -> str:
        return self.hypothesis.fill(label=label)

    def _embedding_sims(self, text: str) -> np.ndarray:
        emb = self.embedder
        if self._hyp_vecs is None:
            self._hyp_vecs = _unit(emb.embed([self._hyp(lab) for lab in self.labels]))
        vec = _unit(emb.embed([text]))[0]
        return self._hyp_vecs @ vec

    def _embedding_probs(self, text: str, sims: np.ndarray | None = None) -> list[float]:
        if sims is None:
            sims = self._embedding_sims(text)
        t = self.similarity_temperature
        if self.multi_label:
            return [_sigmoid((float(s) - self.similarity_threshold) / t) for s in sims]
        return softmax([float(s) for s in sims], temperature=t)

    def probabilities(self, text: str) -> list[float]:
        """One probability per label (in ``self.labels`` order), calibrated if asked."""
        probs = self._llm_probs(text) if self.method == "llm" else self._embedding_probs(text)
        if self.calibrate:
            prior = self.prior()
            if self.multi_label:
                probs = [calibrate([p, 1 - p], [q, 1 - q])[0] for p, q in zip(probs, prior,
                                                                                strict=True)]
            else:
                probs = calibrate(probs, prior)
        return probs

    def probabilities_batch(self, texts: Sequence[str]) -> np.ndarray:
        """``probabilities`` for many texts ``(n, n_labels)``; the embedding method embeds
        them in batches."""
        if self.method != "embedding":
            return np.array([self.probabilities(t) for t in texts])
        emb = self.embedder
        if self._hyp_vecs is None:
            self._hyp_vecs = _unit(emb.embed([self._hyp(lab) for lab in self.labels]))
        sims = _unit(emb.embed(list(texts))) @ self._hyp_vecs.T
        out = [self._embedding_probs("", row) for row in sims]
        if self.calibrate:
            prior = self.prior()
            if self.multi_label:
                out = [[calibrate([p, 1 - p], [q, 1 - q])[0] for p, q in zip(ps, prior,
                                                                                strict=True)]
                       for ps in out]
            else:
                out = [calibrate(ps, prior) for ps in out]
        return np.array(out)

    def prior(self) -> list[float]:
        """The label distribution for content-free inputs (``N/A``, ``[MASK]``, empty),
        averaged: the model's bias that ``calibrate=True`` divides out. Computed once."""
        if self._prior is None:
            runs = [
                self._llm_probs(cf) if self.method == "llm" else self._embedding_probs(cf or " ")
                for cf in CONTENT_FREE
            ]
            self._prior = [float(np.mean(col)) for col in zip(*runs, strict=True)]
        return self._prior

    def _run(self, text: str) -> Result:
        truncated = False
        if self.method == "llm":
            text, truncated = self._fit(text, self.generator)
        probs = self.probabilities(text)
        order = sorted(range(len(self.labels)), key=lambda i: -probs[i])
        best = order[0]
        out: Result = {
            "label": self.labels[best],
            "score": round(float(probs[best]), 6),
            "scores": {self.labels[i]: round(float(probs[i]), 6) for i in order},
        }
        if self.multi_label:
            out["labels"] = [self.labels[i] for i in order if probs[i] >= self.threshold]
        out["method"] = self.method
        if truncated:
            out["truncated"] = True
        return out


MULTI_PROMPT_T = PromptTemplate(MULTI_PROMPT)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


__all__ = ["CLASSIFY_PROMPT", "DEFAULT_HYPOTHESIS", "METHODS", "ZeroShotClassifier"]
