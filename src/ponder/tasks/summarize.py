"""Summarization: extractive (sentence selection), abstractive (the LLM), and the lead baseline.

- ``method="auto"`` (default): the method that measured best on FRANK (ROUGE, figures in
  ``ponder/data/summarization_figures.json``, written by ``bench/tasks.py``): today
  ``extractive``. The abstractive path is chosen only when the configured model is recorded
  there with a ROUGE-1 above lead-3 on the same articles (no model loads to decide unless
  one is). The result's ``method`` says what ran and ``method_detail`` why.
- ``method="extractive"``: sentences are embedded; each one's centrality is its LexRank score
  (PageRank over the cosine-similarity graph of the sentences), mixed with a linear position
  prior (``position_weight=0.6``, chosen on the FRANK validation split: news puts the gist
  first; 0 gives pure centrality); sentences are then picked
  by maximal marginal relevance (``diversity`` trades centrality against similarity to what is
  already picked: redundancy control) and returned in document order.
- ``method="abstractive"``: the LLM writes the summary. A document longer than the context
  window is summarised by **map-reduce**: split at sentence boundaries into parts that fit,
  summarise each, then summarise the joined partial summaries (again in parts if needed).
- ``method="lead"``: the first ``num_sentences`` sentences (the lead-3 baseline of news
  summarization).

Lengths are in words: ``max_length`` caps the summary (the LLM is asked for it, and its
output is cut at a sentence end); ``min_length`` makes extraction add sentences until it is
reached, and makes an abstractive summary that falls short carry a ``warning``.

>>> from ponder.embed.fake import HashEmbedder
>>> doc = ("The council approved the new park. The park will open next spring. "
...        "Residents welcomed the park decision. Unrelated: the weather was mild.")
>>> s = Summarizer(method="extractive", num_sentences=1, embedder=HashEmbedder(dim=128))
>>> s(doc).summary
'The council approved the new park.'
>>> Summarizer(method="lead", num_sentences=2)(doc).summary
'The council approved the new park. The park will open next spring.'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ponder.errors import ConfigError
from ponder.llm.base import Generator
from ponder.tasks.base import PromptOptions, Task, TaskResult
from ponder.text import count_words, split_sentences, truncate_words

METHODS = ("auto", "extractive", "abstractive", "lead")
FIGURES = Path(__file__).resolve().parent.parent / "data" / "summarization_figures.json"
SUMMARY_PROMPT = "Summarize the following text {length}.\n\nText:\n{text}"
RAW_SUFFIX = "\n\nSummary:"
TEMPLATE_RESERVE = 64  # tokens for the chat template and instructions around the text
MAX_REDUCE_ROUNDS = 4
_PREAMBLE = re.compile(
    r"^\s*(?:(?:here(?:'s| is) (?:a |the )?(?:short |brief |concise )?summary[^:\n]*:)|"
    r"(?:summary\s*:))\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class SummarizeOptions(PromptOptions):
    """Options of ``Summarizer`` (see the module doc); lengths are in words."""

    method: str = "auto"
    min_length: int | None = None
    max_length: int | None = None
    num_sentences: int = 3
    diversity: float = 0.3
    position_weight: float = 0.6
    chunk_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method={self.method!r}: use one of {', '.join(METHODS)}")
        for name in ("min_length", "max_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name}={value!r} must be a whole number of words >= 1")
        if self.min_length and self.max_length and self.min_length > self.max_length:
            raise ConfigError(
                f"min_length={self.min_length} is more than max_length={self.max_length}: "
                "swap them"
            )
        if not isinstance(self.num_sentences, int) or self.num_sentences < 1:
            raise ConfigError(f"num_sentences={self.num_sentences!r} must be an integer >= 1")
        if not 0 <= self.diversity < 1:
            raise ConfigError(f"diversity={self.diversity} must be in [0, 1), e.g. 0.3")
        if not 0 <= self.position_weight <= 1:
            raise ConfigError(f"position_weight={self.position_weight} must be in [0, 1]")
        if self.chunk_tokens is not None and self.chunk_tokens < 32:
            raise ConfigError(f"chunk_tokens={self.chunk_tokens} is too small: use 32 or more")


@dataclass(frozen=True, eq=False)
class SummaryResult(TaskResult):
    """One summary: ``sentences`` (indices picked, extractive and lead) or ``chunks`` and
    ``reduce_rounds`` (abstractive map-reduce); ``method_detail`` says why ``auto`` chose."""

    summary: str
    method: str
    sentences: list[int] | None = None
    chunks: int | None = None
    reduce_rounds: int | None = None
    warning: str | None = None
    method_detail: str | None = None


class Summarizer(Task[SummarizeOptions, SummaryResult]):
    """``pipeline("summarization")``: a ``SummaryResult`` per text."""

    task = "summarization"
    options_type = SummarizeOptions
    generative = True
    default_generation: ClassVar[dict[str, Any]] = {"repetition_penalty": 1.1}
    default_prompt = SUMMARY_PROMPT
    raw_suffix = RAW_SUFFIX

    def _prepare(self) -> None:
        self._resolved: tuple[str, str] | None = None

    def resolved_method(self) -> tuple[str, str]:
        """``(method, why)``: the method that runs, and for ``auto`` why it was chosen."""
        if self.options.method != "auto":
            return self.options.method, "asked for"
        if self._resolved is None:
            model_id = None
            if best_abstractive_models():  # only then is the configured model worth loading
                model_id = self.generator.model_id
            self._resolved = choose_method(model_id)
        return self._resolved

    def _run(self, text: str) -> SummaryResult:
        method, why = self.resolved_method()
        detail = why if self.options.method == "auto" else None
        if method == "abstractive":
            return self._abstractive(text, detail)
        sentences = split_sentences(text)
        picked = self._lead(sentences) if method == "lead" else self._extract(sentences)
        summary = " ".join(sentences[i] for i in picked)
        return SummaryResult(summary, method, sentences=picked, method_detail=detail)

    # ------------------------------------------------------------ extractive

    def _lead(self, sentences: Sequence[str]) -> list[int]:
        return self._take(list(range(len(sentences))), sentences)

    def _take(self, order: Sequence[int], sentences: Sequence[str]) -> list[int]:
        """Sentences in ``order`` while they fit ``max_length``, up to ``num_sentences`` (more
        while below ``min_length``); returned in document order."""
        o = self.options
        picked: list[int] = []
        words = 0
        for i in order:
            enough = len(picked) >= o.num_sentences
            if enough and (o.min_length is None or words >= o.min_length):
                break
            w = count_words(sentences[i])
            if o.max_length is not None and picked and words + w > o.max_length:
                continue
            picked.append(i)
            words += w
        return sorted(picked)

    def _extract(self, sentences: Sequence[str]) -> list[int]:
        n = len(sentences)
        if n <= 1:
            return list(range(n))
        vecs = np.asarray(self.embedder.embed(list(sentences)), dtype=np.float32)
        vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        sim = vecs @ vecs.T
        cent = lexrank(sim)
        weight = self.options.position_weight
        if weight:
            pos = 1.0 - np.arange(n) / n
            cent = (1 - weight) * cent + weight * pos
        return self._take(mmr_order(cent, sim, self.options.diversity), sentences)

    # ------------------------------------------------------------ abstractive

    def _length_phrase(self) -> str:
        o = self.options
        if o.max_length and o.min_length:
            return f"in {o.min_length} to {o.max_length} words"
        if o.max_length:
            return f"in at most {o.max_length} words"
        if o.min_length:
            return f"in at least {o.min_length} words"
        return f"in {o.num_sentences} sentences" if o.num_sentences > 1 else "in one sentence"

    def _max_new_tokens(self) -> int:
        words = self.options.max_length or 25 * self.options.num_sentences
        return int(words * 1.6) + 16

    def summary_budget(self, gen: Generator) -> int:
        """Tokens of document text that one summarization call can take."""
        cfg = self.generation_config(max_new_tokens=self._max_new_tokens())
        budget = self.text_budget(gen, reserve=TEMPLATE_RESERVE, minimum=32,
                                  max_new_tokens=cfg.max_new_tokens, length=self._length_phrase())
        return min(budget, self.options.chunk_tokens or budget)

    def split_parts(self, text: str, budget: int, gen: Generator) -> list[str]:
        """Cut ``text`` at sentence ends into parts of at most ``budget`` tokens."""
        parts: list[str] = []
        current: list[str] = []
        used = 0
        for sentence in split_sentences(text):
            for piece in self._pieces(sentence, budget, gen):
                n = self.tokens(gen, piece) + 1
                if current and used + n > budget:
                    parts.append(" ".join(current))
                    current, used = [], 0
                current.append(piece)
                used += n
        if current:
            parts.append(" ".join(current))
        return parts

    def _pieces(self, sentence: str, budget: int, gen: Generator) -> list[str]:
        n = self.tokens(gen, sentence)
        if n < budget:
            return [sentence]
        words = sentence.split()
        step = max(1, len(words) * budget // (2 * n))
        return [" ".join(words[i : i + step]) for i in range(0, len(words), step)]

    def _summarize_once(self, text: str, gen: Generator) -> str:
        cfg = self.generation_config(max_new_tokens=self._max_new_tokens())
        body = self.render(gen, text=text, length=self._length_phrase())
        completion = self.complete_text(gen, body, cfg)
        return clean_summary(completion.text, cut_unfinished=completion.finish_reason == "length")

    def _abstractive(self, text: str, detail: str | None) -> SummaryResult:
        gen = self.generator
        budget = self.summary_budget(gen)
        chunks, rounds = 1, 0
        while self.tokens(gen, text) > budget:  # map-reduce until the text fits
            if rounds >= MAX_REDUCE_ROUNDS:
                text = self.fit_text(gen, text, budget)[0]
                break
            parts = self.split_parts(text, budget, gen)
            if rounds == 0:
                chunks = len(parts)
            partial = [self._summarize_once(part, gen) for part in parts]
            text = "\n".join(p for p in partial if p) or self.fit_text(gen, text, budget)[0]
            rounds += 1
        summary = self._summarize_once(text, gen)
        o = self.options
        if o.max_length:
            summary = truncate_words(summary, o.max_length)
        warning = None
        if not summary:
            warning = "the model returned an empty summary: try another model or prompt"
        elif o.min_length and count_words(summary) < o.min_length:
            warning = (
                f"the summary has {count_words(summary)} words, fewer than min_length="
                f"{o.min_length}: the model stopped early"
            )
        return SummaryResult(summary, "abstractive", chunks=chunks, reduce_rounds=rounds or None,
                             warning=warning, method_detail=detail)


def load_figures(path: Path = FIGURES) -> dict[str, Any]:
    """The measured FRANK figures (``{}`` when none were recorded)."""
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def best_abstractive_models(figures: dict[str, Any] | None = None) -> dict[str, float]:
    """Model ids whose abstractive ROUGE-1 beat lead-3 on the same FRANK articles."""
    figures = load_figures() if figures is None else figures
    return {
        model: float(row["rouge1"])
        for model, row in figures.get("abstractive", {}).items()
        if float(row["rouge1"]) > float(row["lead3_rouge1"])
    }


def choose_method(model_id: str | None, figures: dict[str, Any] | None = None
                  ) -> tuple[str, str]:
    """``(method, why)`` for ``method="auto"``: abstractive if ``model_id`` beat lead-3 on
    FRANK, else the better of extractive and lead by ROUGE-1 (extractive when unmeasured).

    >>> figs = {"rouge1": {"extractive": 0.33, "lead": 0.32},
    ...         "abstractive": {"big": {"rouge1": 0.41, "lead3_rouge1": 0.40, "n": 20},
    ...                         "small": {"rouge1": 0.27, "lead3_rouge1": 0.40, "n": 20}}}
    >>> choose_method("big", figs)[0], choose_method("small", figs)[0]
    ('abstractive', 'extractive')
    >>> choose_method("small", figs)[1]  # doctest: +ELLIPSIS
    'default: extractive measured best on FRANK (ROUGE-1 0.330, lead-3 0.320); small: ...'
    """
    figures = load_figures() if figures is None else figures
    winners = best_abstractive_models(figures)
    if model_id in winners:
        row = figures["abstractive"][model_id]
        return "abstractive", (
            f"default: {model_id} beat lead-3 on FRANK (ROUGE-1 {row['rouge1']:.3f} vs "
            f"{row['lead3_rouge1']:.3f}, n={row.get('n')})"
        )
    r1 = figures.get("rouge1", {})
    if not r1:
        return "extractive", "default: extractive (no FRANK figures recorded)"
    best = max(("extractive", "lead"), key=lambda m: float(r1.get(m, -1.0)))
    why = (
        f"default: {best} measured best on FRANK (ROUGE-1 {float(r1.get('extractive', 0)):.3f}, "
        f"lead-3 {float(r1.get('lead', 0)):.3f})"
    )
    row = figures.get("abstractive", {}).get(model_id or "")
    if row:
        why += (
            f"; {model_id}: abstractive ROUGE-1 {float(row['rouge1']):.3f} < lead-3 "
            f"{float(row['lead3_rouge1']):.3f}"
        )
    else:
        why += "; abstractive only for a model measured above lead-3"
    return best, why


def clean_summary(text: str, *, cut_unfinished: bool = False) -> str:
    """Strip a "Summary:"-style preamble and quotes; with ``cut_unfinished``, drop a last
    sentence that the token limit cut off (when an earlier one is complete).

    >>> clean_summary("Here is a summary of the text: The park opens. It will", cut_unfinished=True)
    'The park opens.'
    """
    text = _PREAMBLE.sub("", text.strip()).strip().strip('"“”').strip()
    text = " ".join(text.split())
    if cut_unfinished and text and text[-1] not in ".!?\"'”’":
        sentences = split_sentences(text)
        if len(sentences) > 1:
            text = " ".join(sentences[:-1])
    return text


def lexrank(sim: np.ndarray, damping: float = 0.85, iterations: int = 100) -> np.ndarray:
    """Continuous LexRank: PageRank over the graph of positive cosine similarities; scores
    scaled so the most central sentence has 1.

    >>> s = np.array([[1, .9, .8], [.9, 1, .1], [.8, .1, 1]])
    >>> [round(float(x), 2) for x in lexrank(s)]
    [1.0, 0.61, 0.56]
    """
    n = sim.shape[0]
    w = np.clip(sim, 0.0, None).astype(np.float64)
    np.fill_diagonal(w, 0.0)
    rows = w.sum(axis=1, keepdims=True)
    m = np.where(rows > 0, w / np.where(rows > 0, rows, 1.0), 1.0 / n)
    p = np.full(n, 1.0 / n)
    for _ in range(iterations):
        nxt = (1 - damping) / n + damping * (m.T @ p)
        if np.abs(nxt - p).sum() < 1e-9:
            p = nxt
            break
        p = nxt
    return p / p.max()


def mmr_order(relevance: np.ndarray, sim: np.ndarray, diversity: float) -> list[int]:
    """Indices in maximal-marginal-relevance order: each next one maximises
    ``(1 - diversity) * relevance - diversity * (max similarity to those already taken)``.

    >>> rel = np.array([1.0, 0.95, 0.5]); s = np.array([[1, .99, 0], [.99, 1, 0], [0, 0, 1]])
    >>> mmr_order(rel, s, 0.5)
    [0, 2, 1]
    """
    n = len(relevance)
    left = list(range(n))
    order: list[int] = []
    redundancy = np.zeros(n)
    while left:
        scores = [(1 - diversity) * relevance[i] - diversity * redundancy[i] for i in left]
        best = left[int(np.argmax(scores))]
        order.append(best)
        left.remove(best)
        redundancy = np.maximum(redundancy, sim[best])
    return order


__all__ = [
    "METHODS",
    "SummarizeOptions",
    "Summarizer",
    "SummaryResult",
    "best_abstractive_models",
    "choose_method",
    "clean_summary",
    "lexrank",
    "mmr_order",
]
