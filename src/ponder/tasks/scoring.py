"""Label scoring with a language model: the log-likelihood of each label as the reply.

The prompt ends right before the answer; each label is scored as a continuation with
``Generator.logprobs``. The choices made:

- **Surface forms.** A label is scored as written, lower-cased and capitalised (``"positive"``,
  ``"Positive"``); its log-probability is the log-sum-exp over those forms, so the model is
  not penalised for preferring a capital letter.
- **Spacing.** After a chat template (the reply starts on a fresh line) or a prompt ending in
  whitespace the label is appended as is; after a raw prompt ending in text, with a space.
- **Length normalisation.** ``normalize="auto"`` (the default) uses the total log-probability
  when every form has the same number of tokens, and the mean log-probability per token when
  they differ, so a label split into more tokens is not penalised for its length; ``"sum"``
  and ``"mean"`` force one rule.
- **Confidence.** A softmax over the label set: ``P(label | text, one of these labels)``.
- **Multi-label.** Each label is its own yes/no question:
  ``P(yes) / (P(yes) + P(no))``.
- **Calibration** (optional, Zhao et al. 2021 "contextual calibration"): the label
  distribution for a content-free input (``"N/A"``) estimates the model's prior bias, and
  each prediction is divided by it before renormalising.

>>> softmax([0.0, 0.0])
[0.5, 0.5]
>>> [round(p, 3) for p in softmax([2.0, 0.0], temperature=2.0)]
[0.731, 0.269]
>>> from ponder.llm.fake import ScriptedGenerator
>>> g = ScriptedGenerator(logprobs={"yes": -0.2, "no": -1.8})
>>> round(yes_probability(g, "Is the sky blue?"), 3)
0.832
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ponder.errors import ConfigError
from ponder.llm.base import Generator, Message
from ponder.text import count_tokens

NORMALIZATIONS = ("auto", "sum", "mean")


def softmax(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    """Softmax of ``scores / temperature`` (stable; ``-inf`` scores get probability 0)."""
    if temperature <= 0:
        raise ConfigError(f"temperature={temperature} must be > 0")
    xs = [s / temperature for s in scores]
    top = max(xs)
    if top == float("-inf"):
        return [1.0 / len(xs)] * len(xs)
    ex = [math.exp(x - top) for x in xs]
    total = sum(ex)
    return [e / total for e in ex]


def logsumexp(xs: Sequence[float]) -> float:
    """``log(sum(exp(x)))``, stable.

    >>> round(logsumexp([math.log(0.25), math.log(0.25)]), 6) == round(math.log(0.5), 6)
    True
    """
    top = max(xs)
    if top == float("-inf"):
        return top
    return top + math.log(sum(math.exp(x - top) for x in xs))


def surface_forms(label: str) -> list[str]:
    """The forms a label is scored in: as written, lower-case, capitalised (no duplicates).

    >>> surface_forms("positive")
    ['positive', 'Positive']
    """
    forms = [label, label.lower(), label[:1].upper() + label[1:]]
    return list(dict.fromkeys(forms))


def _needs_space(gen: Generator, prompt: str | list[Message], raw: bool) -> bool:
    if not raw and gen.has_chat_template:
        return False
    text = prompt if isinstance(prompt, str) else ""
    return not text.endswith((" ", "\n", "\t"))


def label_logprobs(
    gen: Generator,
    prompt: str | list[Message],
    labels: Sequence[str],
    *,
    system: str | None = None,
    raw: bool = False,
    normalize: str = "auto",
) -> list[float]:
    """One log-score per label: log-sum-exp over its surface forms of the (length-normalised,
    see the module doc) log-probability of the form as the reply to ``prompt``.

    >>> from ponder.llm.fake import ScriptedGenerator
    >>> g = ScriptedGenerator(logprobs={"good": -1.0, "Good": -1.0, "bad": -3.0, "Bad": -5.0})
    >>> [round(x, 3) for x in label_logprobs(g, "Review: fine", ["good", "bad"])]
    [-0.307, -2.873]
    """
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"normalize={normalize!r}: use one of {', '.join(NORMALIZATIONS)}")
    if not getattr(gen, "supports_logprobs", False):
        raise ConfigError(
            f"model {gen.model_id!r} cannot score labels by log-probability: use a local model "
            "(the default smollm2, a .gguf file or a Hugging Face folder), or method='embedding' "
            "(--method embedding) which needs no generator"
        )
    space = " " if _needs_space(gen, prompt, raw) else ""
    forms = [surface_forms(lab) for lab in labels]
    flat = [space + f for fs in forms for f in fs]
    scores = gen.logprobs(prompt, flat, system=system, raw=raw)
    counts = [max(1, count_tokens(c, gen).n) for c in flat]
    mode = normalize
    if mode == "auto":
        mode = "sum" if len(set(counts)) == 1 else "mean"
    if mode == "mean":
        scores = [s / n for s, n in zip(scores, counts, strict=True)]
    out: list[float] = []
    pos = 0
    for fs in forms:
        out.append(logsumexp(scores[pos : pos + len(fs)]))
        pos += len(fs)
    return out


def label_distribution(
    gen: Generator,
    prompt: str | list[Message],
    labels: Sequence[str],
    *,
    system: str | None = None,
    raw: bool = False,
    normalize: str = "auto",
    prior: Sequence[float] | None = None,
) -> list[float]:
    """``P(label)`` over ``labels`` (softmax of ``label_logprobs``); with ``prior`` (a content-
    free distribution) each probability is divided by it and the result renormalised."""
    probs = softmax(label_logprobs(gen, prompt, labels, system=system, raw=raw,
                                   normalize=normalize))
    if prior is not None:
        probs = calibrate(probs, prior)
    return probs


def calibrate(probs: Sequence[float], prior: Sequence[float]) -> list[float]:
    """Contextual calibration: ``p_i / prior_i``, renormalised.

    >>> [round(p, 3) for p in calibrate([0.6, 0.4], [0.8, 0.2])]
    [0.273, 0.727]
    """
    adj = [p / max(q, 1e-12) for p, q in zip(probs, prior, strict=True)]
    total = sum(adj)
    return [a / total for a in adj]


def yes_probability(
    gen: Generator,
    prompt: str | list[Message],
    *,
    system: str | None = None,
    raw: bool = False,
    yes: str = "yes",
    no: str = "no",
) -> float:
    """``P(yes) / (P(yes) + P(no))`` for a yes/no question (sigmoid of the log-odds)."""
    ly, ln = label_logprobs(gen, prompt, [yes, no], system=system, raw=raw, normalize="sum")
    return softmax([ly, ln])[0]


__all__ = [
    "NORMALIZATIONS",
    "calibrate",
    "label_distribution",
    "label_logprobs",
    "logsumexp",
    "softmax",
    "surface_forms",
    "yes_probability",
]
