"""What ``ponder.ask`` returns: the ``Answer`` with its checked ``Citation``s.

>>> a = Answer(question="q?", text="Paris [1].", citations=[Citation(1, "c1", "atlas.txt",
...            "chars 0-20", "Paris is the capital of France.")])
>>> a.to_dict()["citations"][0]["n"], a.ok
(1, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ponder.prompts.defenses import InjectionSpan
from ponder.types import Hit

if TYPE_CHECKING:
    from ponder.rag.extractive import Extraction

Mode = Literal["generative", "extractive"]

Status = Literal[
    "answered",  # the model answered from the sources
    "no_answer",  # the model said the sources do not contain the answer
    "empty_collection",  # nothing to answer from; the model was not called
    "no_relevant_source",  # no source above the relevance floor; the model was not called
    "question_too_long",  # the question leaves no room for sources or the answer
    "closed_book",  # answered without sources (evaluation baseline)
]


@dataclass(frozen=True)
class Citation:
    """One source of the answer, numbered as cited in ``Answer.text`` (``[n]``).

    ``text`` is the chunk text the model was given (after neutralisation and packing);
    ``quote`` is the sentence of it that best supports the answer; ``inferred`` is True when
    the model did not cite the source itself but the support check found that it supports an
    answer sentence (small models rarely write ``[n]``); ``sentences`` are the indices (into
    ``Answer.sentences``) of the answer sentences it supports.
    """

    n: int
    chunk_id: str
    source: str | None
    location: str
    text: str
    quote: str = ""
    inferred: bool = False
    sentences: tuple[int, ...] = ()
    score: float | None = None
    prompt_n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "location": self.location,
            "text": self.text,
            "quote": self.quote,
            "inferred": self.inferred,
            "sentences": list(self.sentences),
            "retrieval_score": self.score,
        }


@dataclass(frozen=True)
class SentenceSupport:
    """One sentence of the answer: the sources it cites (answer numbering), those that support
    it (answer numbering, cited or inferred), its best support score, and its kind:
    ``claim`` (checked), ``refusal`` ("the sources do not contain the answer") or ``filler``
    (too few content words to check)."""

    text: str
    cited: tuple[int, ...]
    supported_by: tuple[int, ...]
    score: float
    kind: Literal["claim", "refusal", "filler"] = "claim"

    @property
    def supported(self) -> bool:
        return self.kind != "claim" or bool(self.supported_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "cited": list(self.cited),
            "supported_by": list(self.supported_by),
            "score": round(self.score, 3),
            "kind": self.kind,
            "supported": self.supported,
        }


@dataclass
class Answer:
    """An answer with checked citations.

    - ``text``: the answer, citation numbers renumbered 1.. in order of first citation,
      numbers that point at no source removed, output check applied.
    - ``citations``: the sources, numbered as in ``text`` (then inferred ones).
    - ``unsupported``: answer sentences that no source supports.
    - ``removed_citations``: the numbers the model wrote that point at no source.
    - ``injections``: instruction-like spans found (and neutralised) in the retrieved text.
    - ``output_removed``: what the output check took out of the answer, with the reason.
    - ``timings``: seconds: ``retrieval``, ``time_to_first_token`` (from the call to the first
      token shown), ``generation``, ``check``, ``total``.
    - ``mode``: which method answered: ``generative`` (the model wrote it) or ``extractive``
      (a sentence or span quoted from a source); ``fallback_reason``: why ``auto`` replaced
      the generated answer by the extractive one (empty when it did not);
      ``generated``: that replaced generated answer.
    - ``extraction``: the extractive answer's span, sentence and location.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    removed_citations: list[int] = field(default_factory=list)
    injections: list[InjectionSpan] = field(default_factory=list)
    output_removed: list[dict[str, str]] = field(default_factory=list)
    sentences: list[SentenceSupport] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    status: Status = "answered"
    chain: str = "stuff"
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    context_tokens: int = 0
    generator_calls: int = 0
    raw_text: str = ""
    notes: list[str] = field(default_factory=list)
    mode: Mode = "generative"
    fallback_reason: str = ""
    generated: Answer | None = None
    extraction: Extraction | None = None

    @property
    def ok(self) -> bool:
        """True when the answer is an answer from the sources with every claim supported."""
        return self.status == "answered" and not self.unsupported

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "status": self.status,
            "citations": [c.to_dict() for c in self.citations],
            "unsupported": list(self.unsupported),
            "removed_citations": list(self.removed_citations),
            "injections": [s.to_dict() for s in self.injections],
            "output_removed": list(self.output_removed),
            "sentences": [s.to_dict() for s in self.sentences],
            "retrieved": [
                {
                    "rank": h.rank,
                    "chunk_id": h.chunk.id,
                    "source": h.chunk.source,
                    "score": h.score,
                    "found_by": h.found_by,
                }
                for h in self.hits
            ],
            "dropped": list(self.dropped),
            "chain": self.chain,
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "prompt_tokens": self.prompt_tokens,
            "context_tokens": self.context_tokens,
            "generator_calls": self.generator_calls,
            "raw_text": self.raw_text,
            "notes": list(self.notes),
            "mode": self.mode,
            "fallback_reason": self.fallback_reason or None,
            "generated_answer": self.generated.text if self.generated is not None else None,
            "extraction": self.extraction.to_dict() if self.extraction is not None else None,
        }


__all__ = ["Answer", "Citation", "Mode", "SentenceSupport", "Status"]
