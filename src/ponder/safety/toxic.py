"""Toxicity / offensiveness scores: a calibrated classifier head by default, or the LLM.

- ``method="head"`` (default): a logistic regression on all-MiniLM-L6-v2 embeddings, one head
  per TweetEval task, trained on its ``train`` split and temperature-calibrated on its ``val``
  split by ``scripts/train_heads.py`` (``ponder/data/heads/{offensive,hate}.npz``, a few KB
  each). ``head="offensive"`` (default: OffensEval's notion, which covers insults, threats,
  profanity and hate) or ``head="hate"`` (HatEval: hate against immigrants and women). The
  score is the head's calibrated probability of the offensive/hateful class.
- ``method="llm"``: the generator is asked whether the text is offensive, hateful or toxic,
  and the score is ``P(yes) / (P(yes) + P(no))`` from the answer's log-probabilities
  (uncalibrated).

``toxicity(texts)`` is the one entry point that the moderation step of chains and the server
share; ``ToxicityScorer`` is the same as a task pipeline (``iter_batch`` for files).

>>> from ponder.llm.fake import ScriptedGenerator
>>> g = ScriptedGenerator(logprobs={"yes": -0.2, "no": -2.0})
>>> [s.label for s in toxicity(["You are an idiot", "Nice day"], method="llm", generator=g)]
['toxic', 'toxic']
>>> toxicity("hello", method="votes")
Traceback (most recent call last):
...
ponder.errors.ConfigError: method='votes': use 'head' (trained classifier, default) or 'llm'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ponder.errors import ConfigError
from ponder.tasks.base import Task, TaskOptions, TaskResult
from ponder.tasks.head import EmbeddingHead, shipped_head
from ponder.tasks.inputs import check_texts
from ponder.tasks.scoring import yes_probability

METHODS = ("head", "llm")
HEADS = {"offensive": "offensive", "hate": "hate"}  # head name -> its positive class
LLM_PROMPT = (
    "Is the following text offensive, hateful, insulting or toxic? Answer yes or no.\n\n"
    "Text: {text}"
)


@dataclass(frozen=True)
class ToxicityScore:
    """One text's score: ``score`` is the probability that it is toxic/offensive (0..1),
    ``label`` is ``"toxic"`` when ``score >= threshold`` else ``"ok"``."""

    text: str
    score: float
    label: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class ToxicityOptions(TaskOptions):
    """Options of ``ToxicityScorer`` (see the module doc)."""

    method: str = "head"
    head: str | EmbeddingHead = field(default="offensive", compare=False)
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(
                f"method={self.method!r}: use 'head' (trained classifier, default) or 'llm'"
            )
        if isinstance(self.head, str) and self.head not in HEADS:
            raise ConfigError(f"head={self.head!r}: use one of {', '.join(HEADS)}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"threshold={self.threshold} must be between 0 and 1, e.g. 0.5")


@dataclass(frozen=True, eq=False)
class ToxicityResult(TaskResult):
    """``ToxicityScorer``'s result for one text."""

    label: str
    score: float
    method: str
    method_detail: str


class ToxicityScorer(Task[ToxicityOptions, ToxicityResult]):
    """A ``ToxicityResult`` (label, score, method, method_detail) per text (see the module
    doc)."""

    task = "toxicity"
    options_type = ToxicityOptions
    default_prompt = LLM_PROMPT
    raw_suffix = "\nAnswer:"

    def _prepare(self) -> None:
        self.method = self.options.method
        self.threshold = self.options.threshold
        head = self.options.head
        self._head_spec = head
        self._head: EmbeddingHead | None = head if isinstance(head, EmbeddingHead) else None
        self._checked = False

    @property
    def head(self) -> EmbeddingHead:
        """The classifier head, loaded on first use."""
        if self._head is None:
            self._head = shipped_head(str(self._head_spec))
        return self._head

    @property
    def embedder(self) -> Any:
        """The embedder given, else the head's own (all-MiniLM-L6-v2 for the shipped heads)."""
        if self._embedder is None and self.method == "head":
            self._embedder = self.head.embedder()
        return Task.embedder.fget(self)  # type: ignore[attr-defined]

    @property
    def detail(self) -> str:
        """What scored: the head's description, or the generator's model id."""
        if self.method == "head":
            return self.head.describe()
        return f"{self.model_id}: P(yes) to 'is this offensive...?' (uncalibrated)"

    def _positive(self) -> int:
        head = self.head
        for name in ("offensive", "hate", "toxic"):
            if name in head.labels:
                return head.labels.index(name)
        return len(head.labels) - 1

    def scores(self, texts: Sequence[str]) -> list[float]:
        """The toxicity probability of each (checked, non-empty) text."""
        if self.method == "llm":
            return [self._llm_score(t) for t in texts]
        head = self.head
        if not self._checked:
            head.check_embedder(self.embedder)
            self._checked = True
        probs = head.predict_proba(self.embedder.embed(list(texts)))
        return [float(p) for p in probs[:, self._positive()]]

    def _llm_score(self, text: str) -> float:
        gen = self.generator
        return yes_probability(gen, self.render(gen, text=text))

    def _result(self, score: float) -> ToxicityResult:
        label = "toxic" if score >= self.threshold else "ok"
        return ToxicityResult(label, round(score, 6), self.method, self.detail)

    def _run(self, text: str) -> ToxicityResult:
        return self._result(self.scores([text])[0])


def toxicity(
    texts: str | Sequence[str],
    *,
    method: str = "head",
    embedder: Any = None,
    generator: Any = None,
    threshold: float = 0.5,
    head: str | EmbeddingHead = "offensive",
) -> list[ToxicityScore]:
    """Score each text: a ``ToxicityScore`` per text, in order (a single string gives a list
    of one). ``embedder``: an ``Embedder`` or a ``load_embedder`` name (default minilm);
    ``generator``: a ``Generator`` or spec for ``method="llm"``; ``head``: ``"offensive"``
    (default), ``"hate"`` or an ``EmbeddingHead`` of your own."""
    scorer = _scorer(method, head, threshold, generator, embedder)
    items = check_texts(texts, "toxicity")
    if not items:
        return []
    scores = scorer.scores(list(items))
    return [
        ToxicityScore(t, round(s, 6), "toxic" if s >= threshold else "ok", method)
        for t, s in zip(items, scores, strict=True)
    ]


_CACHE: dict[tuple[Any, ...], ToxicityScorer] = {}


def _scorer(method: str, head: str | EmbeddingHead, threshold: float, generator: Any,
            embedder: Any) -> ToxicityScorer:
    """Scorers are kept per (method, head, threshold, models) so repeated calls (a chain's
    moderation step, the server) do not reload models."""
    key = (method, head if isinstance(head, str) else id(head), threshold,
           id(generator) if generator is not None else None,
           id(embedder) if embedder is not None else None)
    if isinstance(generator, str) or isinstance(embedder, str):
        key = (*key, str(generator), str(embedder))
    if key not in _CACHE:
        if len(_CACHE) > 16:
            _CACHE.clear()
        _CACHE[key] = ToxicityScorer(method=method, head=head, threshold=threshold,
                                     model=generator, embedder=embedder)
    return _CACHE[key]


def head_scores(texts: Sequence[str], head: str = "offensive", embedder: Any = None
                ) -> np.ndarray:
    """Calibrated class probabilities ``(n, n_labels)`` of the shipped ``head`` (for
    evaluations: every class, not just the toxic one)."""
    scorer = _scorer("head", head, 0.5, None, embedder)
    h = scorer.head
    h.check_embedder(scorer.embedder)
    return h.predict_proba(scorer.embedder.embed(list(texts)))


__all__ = [
    "HEADS",
    "METHODS",
    "ToxicityOptions",
    "ToxicityResult",
    "ToxicityScore",
    "ToxicityScorer",
    "head_scores",
    "toxicity",
]
