"""Answer modes: when ``auto`` keeps the model's answer, and the extractive answer itself.

``auto`` keeps a generated answer only when it passes two checks: ``fallback_reason`` (it is
not empty or a refusal, and the support check finds every sentence in the sources) and
``ponder.rag.extractive.agreement`` (the words it adds to the question are in one source
sentence the extractive scorer ranks near the top). Otherwise ``extractive_answer`` answers:
the best span of the retrieved chunks, cited with its sentence as the quote.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ponder.embed.base import Embedder
from ponder.prompts.defenses import InjectionSpan
from ponder.rag.answer import Answer, Citation, SentenceSupport
from ponder.rag.citations import CitationMapper
from ponder.rag.extractive import NOT_FOUND, SentenceCandidate, extract_ranked, rank_sentences
from ponder.rag.packing import prepare_hits
from ponder.rag.stream import AnswerStream, writer_for
from ponder.types import Hit

if TYPE_CHECKING:
    from ponder.rag.ask import AskConfig

_QUALNAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")  # csv.DictReader, os.path.join


def say(stream_to: Any, text: str, *, citations: bool = False) -> None:
    """Write ``text`` to ``stream_to``; ``citations``: its ``[n]`` markers are final."""
    if citations:
        write = writer_for(stream_to)
        if write is not None:
            write(text)
        return
    s = AnswerStream(stream_to)
    s.write(text)
    s.close()


def fallback_reason(answer: Answer, sources: Sequence[str]) -> str:
    """Why ``auto`` replaces a generated ``answer`` by the extractive one ("" to keep it): it
    is empty or a refusal, a sentence of it is unsupported, or it is too short to check and
    its words are not in the sources. An answer that passes is then checked for agreement
    with the extractive reading (``ponder.rag.extractive.agreement``).

    >>> ok = SentenceSupport("Four minutes [1].", (1,), (1,), 1.0)
    >>> fallback_reason(Answer("q", "Four minutes [1].", sentences=[ok]), ["x"])
    ''
    >>> fallback_reason(Answer("q", "Ten minutes.", unsupported=["Ten minutes."]), ["x"])
    'the generated answer is not supported by the sources (Ten minutes.)'
    >>> fallback_reason(Answer("q", "", status="no_answer"), ["x"])
    'the model gave no answer'
    >>> fallback_reason(Answer("q", "1990", status="answered"), ["Built in 1990."])
    ''
    """
    if answer.status == "no_answer" or not answer.text.strip():
        return "the model gave no answer"
    if answer.unsupported:
        return f"the generated answer is not supported by the sources ({answer.unsupported[0]})"
    if not any(s.kind == "claim" for s in answer.sentences):
        from ponder.evaluate.qa import normalize_answer

        said = normalize_answer(CitationMapper(set()).map_text(answer.text))
        if not said or not any(said in normalize_answer(t) for t in sources):
            return "the generated answer is not found in the sources"
    return ""


def extractive_answer(
    question: str,
    hits: Sequence[Hit],
    *,
    config: AskConfig | None = None,
    embedder: Embedder | None = None,
    stream_to: Any = None,
    t0: float | None = None,
    retrieval_seconds: float = 0.0,
    ranked: Sequence[tuple[SentenceCandidate, float]] | None = None,
) -> Answer:
    """The extractive answer from ``hits`` (``ponder.rag.extractive``): the best span, cited
    to its chunk with the sentence as the quote, or "The sources do not contain the answer."
    when no sentence clears the floor. Instruction-like text is neutralised first, as for
    the model. ``ranked``: the sentences already scored by ``rank_sentences`` on the same
    texts. A span from an API reference entry (its section is a qualified name such as
    ``csv.DictReader``) is prefixed with that name, which the sentence may leave implicit."""
    if config is None:
        from ponder.rag.ask import AskConfig

        config = AskConfig()
    cfg = config
    t0 = time.perf_counter() if t0 is None else t0
    t_x = time.perf_counter()
    texts, spans = extraction_texts(hits, cfg)
    if ranked is None:
        ranked = rank_sentences(question, hits, texts=texts, embedder=embedder)
    x = extract_ranked(question, hits, ranked, scored=embedder is not None)
    if x is None:
        answer = Answer(question=question, text=NOT_FOUND, status="no_answer",
                        mode="extractive", injections=spans)
        answer.sentences = [SentenceSupport(NOT_FOUND, (), (), 0.0, "refusal")]
    else:
        i = next(j for j, h in enumerate(hits) if h is x.hit)
        c = x.hit.chunk
        entry = api_entry(c.heading_path)
        text = f"{entry}: {x.text} [1]" if entry and entry not in x.text else f"{x.text} [1]"
        cit = Citation(
            n=1, chunk_id=c.id, source=c.source or c.doc_id, location=x.location,
            text=texts[i], quote=x.sentence, sentences=(0,), score=x.hit.score, prompt_n=i + 1,
        )
        answer = Answer(
            question=question, text=text, citations=[cit], status="answered",
            mode="extractive", extraction=x, injections=spans,
            sentences=[SentenceSupport(text, (1,), (1,), x.score, "claim")],
        )
    say(stream_to, answer.text, citations=True)
    t_end = time.perf_counter()
    answer.hits = list(hits)
    answer.chain = "extractive"
    answer.timings = {
        "retrieval": retrieval_seconds,
        "time_to_first_token": t_end - t0,
        "extraction": t_end - t_x,
        "total": t_end - t0,
    }
    return answer


def extraction_texts(
    hits: Sequence[Hit], cfg: AskConfig
) -> tuple[list[str], list[InjectionSpan]]:
    """The hits' texts as the extractive scorer reads them (instruction-like spans
    neutralised as for the model) and the spans found."""
    prepared = prepare_hits(hits, neutralise=cfg.defense == "full", defuse=False,
                            threshold=cfg.injection_threshold)
    return [p.text for p in prepared], [sp for p in prepared for sp in p.injections]


def api_entry(heading_path: Sequence[str]) -> str:
    """The qualified name a chunk documents, when its section is an API reference entry.

    >>> api_entry(("csv — CSV File Reading and Writing", "Module Contents", "csv.DictReader"))
    'csv.DictReader'
    >>> api_entry(("Tea", "Green tea")), api_entry(("module csv", "FUNCTIONS"))
    ('', '')
    """
    leaf = heading_path[-1] if heading_path else ""
    return leaf if _QUALNAME.fullmatch(leaf) else ""


__all__ = ["api_entry", "extractive_answer", "fallback_reason"]
