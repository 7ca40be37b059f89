"""``ask``: answer a question from a collection, with checked citations.

question ─► retrieve (hybrid, k, where, relevance floor) ─► neutralise instruction-like spans
─► pack by tokens ─► chain (stuff | map_reduce | refine | map_rerank) ─► stream
─► output check ─► renumber citations ─► support check ─► ``Answer``

Bad input gets a plain answer, not an invented one, and the model is not called: an empty
collection (``empty_collection``), no source above the relevance floor
(``no_relevant_source``), a question that leaves no room in the window
(``question_too_long``). A missing collection raises ``CollectionNotFoundError`` naming it and
how to create it.

**Answer modes** (``answer=``): ``generative`` (the model writes the answer), ``extractive``
(the sentence or span of the retrieved chunks that best answers the question, quoted and
cited, see ``ponder.rag.extractive``; the model is not loaded) and ``auto`` (the default:
generate, check, and when the generated answer is unsupported, empty or a refusal while a
source sentence clears the extractive floor, answer with the extractive span instead;
``Answer.mode``, ``Answer.fallback_reason`` and ``Answer.generated`` say so).

Defaults are set for the default model on two cores (``bench/results/ask.md``): ``k=3``
sources packed into at most ``DEFAULT_CONTEXT_TOKENS`` tokens keep the time to first token
near 4 s; larger ``k`` needs another chain or a larger ``max_context_tokens``.

>>> import tempfile
>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.llm.fake import ScriptedGenerator
>>> from ponder.store.collection import Collection
>>> col = Collection.create("kb", home=tempfile.mkdtemp(), embedder=HashEmbedder(dim=64))
>>> _ = col.add(ids=["nile", "csv"], texts=["The Nile flows north into the Mediterranean.",
...     "csv.DictReader reads rows as dictionaries keyed by the header row."])
>>> g = ScriptedGenerator(
...     ["DictReader reads rows keyed by the header row [1]. It was written in 1999 [7]."])
>>> a = ask("How do I read a CSV file with a header?", collection=col, model=g, k=2,
...         answer="generative")
>>> [h.chunk.id for h in a.hits]  # the Nile chunk is under the relevance floor
['csv']
>>> a.text
'DictReader reads rows keyed by the header row [1]. It was written in 1999.'
>>> [(c.n, c.chunk_id) for c in a.citations], a.removed_citations, a.unsupported
([(1, 'csv')], [7], ['It was written in 1999.'])
>>> a = ask("How do I read a CSV file with a header?", collection=col, model=g, k=2)
>>> a.mode, a.text, a.citations[0].chunk_id
('extractive', 'csv.DictReader reads rows as dictionaries keyed by the header row [1]', 'csv')
>>> a.fallback_reason
'the generated answer is not supported by the sources (It was written in 1999.)'
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any

from ponder.embed.base import Embedder
from ponder.errors import BackendUnavailableError, ConfigError, InputError
from ponder.llm.base import Generator, Message
from ponder.llm.config import GenerationConfig
from ponder.prompts.defenses import (
    DEFAULT_THRESHOLD,
    InjectionSpan,
    check_output,
)
from ponder.rag.answer import Answer, Citation, SentenceSupport, Status
from ponder.rag.chains import CHAINS, ChainContext, run_chain
from ponder.rag.citations import SUPPORT_THRESHOLD, CitationMapper, check_support
from ponder.rag.extractive import agreement, rank_sentences
from ponder.rag.modes import extraction_texts, extractive_answer, fallback_reason, say
from ponder.rag.packing import Source, prepare_hits, source_budget
from ponder.rag.prompt import DEFENSES, NO_ANSWER, RagPrompt, strip_prompt_markup
from ponder.rag.stream import AnswerStream
from ponder.text import token_counter as text_token_counter
from ponder.types import Hit

DEFAULT_K = 3
DEFAULT_CONTEXT_TOKENS = 480
DEFAULT_MAX_NEW_TOKENS = 64
DEFAULT_MIN_SCORE = 0.2  # cosine similarity; applied to cosine collections only
MIN_SOURCE_TOKENS = 32
SUPPORT_MODES = ("lexical", "embedding")
ANSWER_MODES = ("auto", "generative", "extractive")


@dataclass(frozen=True)
class AskConfig:
    """Options of ``ask`` (every one may also be passed to ``ask`` as a keyword).

    ``fusion`` (``zscore``, ``minmax`` or ``rrf``) and ``weights`` (dense, BM25) set how
    hybrid retrieval merges its two rankings (see ``ponder.rag.retrieve``).
    ``min_score`` is the relevance floor on the dense score; ``None`` means
    ``DEFAULT_MIN_SCORE`` for a cosine collection and no floor otherwise; pass a negative
    number such as ``-1`` to switch the floor off.
    """

    k: int = DEFAULT_K
    where: dict[str, Any] | str | None = None
    chain: str = "stuff"
    retrieval: str = "hybrid"
    fusion: str = "zscore"
    weights: tuple[float, float] = (0.5, 0.5)
    min_score: float | None = None
    max_context_tokens: int | None = DEFAULT_CONTEXT_TOKENS
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    defense: str = "full"
    injection_threshold: float = DEFAULT_THRESHOLD
    support: str = "lexical"
    support_threshold: float = SUPPORT_THRESHOLD
    canaries: tuple[str, ...] = ()
    generation: GenerationConfig | None = None
    answer: str = "auto"

    def __post_init__(self) -> None:
        if self.answer not in ANSWER_MODES:
            raise ConfigError(
                f"unknown answer mode {self.answer!r}; choose one of {', '.join(ANSWER_MODES)}"
            )
        if not isinstance(self.k, int) or isinstance(self.k, bool) or self.k < 1:
            raise ConfigError(f"k must be a positive integer, got {self.k!r}")
        if self.chain not in CHAINS:
            raise ConfigError(f"unknown chain {self.chain!r}; choose one of {', '.join(CHAINS)}")
        if self.defense not in DEFENSES:
            raise ConfigError(
                f"unknown defense {self.defense!r}; choose one of {', '.join(DEFENSES)}"
            )
        if self.support not in SUPPORT_MODES:
            raise ConfigError(
                f"unknown support check {self.support!r}; choose one of {', '.join(SUPPORT_MODES)}"
            )
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.max_context_tokens is not None and self.max_context_tokens < MIN_SOURCE_TOKENS:
            raise ConfigError(
                f"max_context_tokens={self.max_context_tokens} leaves no room for sources: use "
                f"at least {MIN_SOURCE_TOKENS} (default {DEFAULT_CONTEXT_TOKENS})"
            )

    def replace(self, **changes: Any) -> AskConfig:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown ask option(s) {unknown}; options are {sorted(known)}")
        if "canaries" in changes and changes["canaries"] is not None:
            changes["canaries"] = tuple(changes["canaries"])
        return dc_replace(self, **{k: v for k, v in changes.items() if v is not None})

    def generation_config(self) -> GenerationConfig:
        base = self.generation or GenerationConfig()
        return base.replace(max_new_tokens=self.max_new_tokens).validate()


# ------------------------------------------------------------------------------ helpers
def resolve_generator(model: Generator | str | None) -> Generator:
    if isinstance(model, Generator):
        return model
    from ponder.llm import load_generator

    return load_generator(model)


def token_counter(generator: Generator) -> Any:
    """The model's token counter, or ``ponder.text``'s estimate when the backend does not
    expose its tokenizer (an HTTP server)."""
    try:
        generator.count_tokens("probe")
        return generator.count_tokens
    except (BackendUnavailableError, NotImplementedError):
        return text_token_counter()


def _prompt_tokens(generator: Generator, messages: Sequence[Message], count: Any) -> int:
    if generator.has_chat_template:
        try:
            return int(count(generator.render_messages(messages)))
        except BackendUnavailableError:
            pass
    return int(count("\n".join(m.content for m in messages))) + 8 * len(messages)


def _plain(question: str, text: str, status: Status, *, model: str = "", chain: str = "stuff",
           t0: float | None = None, **extra: Any) -> Answer:
    a = Answer(question=question, text=text, status=status, model=model, chain=chain, **extra)
    if t0 is not None:
        a.timings["total"] = time.perf_counter() - t0
    return a


# ------------------------------------------------------------------------------ public API
def ask(
    question: str,
    *,
    collection: Any,
    model: Generator | str | None = None,
    config: AskConfig | None = None,
    stream_to: Any = None,
    home: str | Path | None = None,
    **options: Any,
) -> Answer:
    """Answer ``question`` from ``collection`` (a ``Collection`` or its name) with ``model``
    (a ``Generator``, a ``load_generator`` spec, or ``None`` for the default).

    ``options`` are ``AskConfig`` fields (``k=5, chain="refine", where={...}``). With
    ``stream_to`` (a Rich console, a file or a callable) the answer is written as it is
    generated, citations already renumbered.
    """
    cfg = (config or AskConfig()).replace(**options)
    t0 = time.perf_counter()
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty: ask something, e.g. ponder ask \"What is X?\"")
    question = question.strip()
    if isinstance(collection, str):
        from ponder.store.collection import Collection

        with Collection.open(collection, home=home) as col:
            return ask(question, collection=col, model=model, config=cfg, stream_to=stream_to)
    name = getattr(collection, "name", "?")
    if collection.count() == 0:
        text = (
            f"The collection {name!r} is empty, so there is nothing to answer from. Add "
            f"documents with `ponder ingest PATH --collection {name}`."
        )
        say(stream_to, text)
        return _plain(question, text, "empty_collection", t0=t0)
    from ponder.rag.retrieve import RetrievalConfig, retrieve

    cosine = getattr(collection, "metric", "") == "cosine"
    floor = cfg.min_score
    if floor is None:  # the default floor is a cosine similarity: dense and hybrid only
        floor = DEFAULT_MIN_SCORE if cosine and cfg.retrieval != "bm25" else None
    elif floor < 0 and cosine:
        floor = None
    rcfg = RetrievalConfig(
        mode=cfg.retrieval, k=cfg.k, where=cfg.where, min_score=floor,  # type: ignore[arg-type]
        fusion=cfg.fusion, weights=cfg.weights,  # type: ignore[arg-type]
    )
    t_r = time.perf_counter()
    hits = retrieve(collection, question, rcfg)
    retrieval_s = time.perf_counter() - t_r
    if not hits:
        unfloored = retrieve(collection, question, rcfg.replace(min_score=None)) if floor else []
        if unfloored:
            best = (collection.search(question, k=1, where=cfg.where)
                    if cfg.retrieval != "bm25" else unfloored)
            score = f"{best[0].score:.2f}" if best else "?"
            text = (
                f"No source in {name!r} is relevant enough to answer this: the closest chunk "
                f"scores {score}, under the relevance floor {floor}, so no answer was "
                "generated. Rephrase the question, or lower the floor with --min-score."
            )
        else:
            text = (
                f"No chunk of {name!r} matches the filter {cfg.where!r}, so there is nothing to "
                "answer from. Loosen or remove --where."
            )
        say(stream_to, text)
        return _plain(question, text, "no_relevant_source", t0=t0,
                      timings={"retrieval": retrieval_s})
    embedder = collection.embedder if cfg.support == "embedding" else None
    return answer_from_hits(
        question, hits, model=model, config=cfg, stream_to=stream_to, embedder=embedder,
        t0=t0, retrieval_seconds=retrieval_s,
        scorer_embedder=getattr(collection, "embedder", None),
    )


def answer_from_hits(
    question: str,
    hits: Sequence[Hit],
    *,
    model: Generator | str | None = None,
    config: AskConfig | None = None,
    stream_to: Any = None,
    embedder: Embedder | None = None,
    t0: float | None = None,
    retrieval_seconds: float = 0.0,
    scorer_embedder: Embedder | None = None,
    **options: Any,
) -> Answer:
    """Answer from given hits (no retrieval): the part of ``ask`` after retrieval, for
    evaluations and for callers with their own retriever. ``scorer_embedder`` (the
    collection's embedder) adds embedding similarity to the extractive scorer."""
    cfg = (config or AskConfig()).replace(**options)
    t0 = time.perf_counter() if t0 is None else t0
    if cfg.answer == "extractive":
        return extractive_answer(
            question, hits, config=cfg, embedder=scorer_embedder, stream_to=stream_to, t0=t0,
            retrieval_seconds=retrieval_seconds,
        )
    gen = resolve_generator(model)
    count = token_counter(gen)
    prompt = RagPrompt.for_request(cfg.defense, [*(h.chunk.text for h in hits), question])
    overhead = _prompt_tokens(gen, prompt.answer_messages(question, []), count)
    budget = source_budget(
        gen.context_window or 2048,
        overhead_tokens=overhead,
        max_new_tokens=cfg.max_new_tokens,
        max_context_tokens=cfg.max_context_tokens,
    )
    if budget < MIN_SOURCE_TOKENS:
        text = (
            f"The question is too long for the model: with it the prompt needs {overhead} "
            f"tokens, and {gen.model_id or 'the model'} reads {gen.context_window} including "
            f"the {cfg.max_new_tokens} of the answer, which leaves no room for sources. "
            "Shorten the question."
        )
        say(stream_to, text)
        return _plain(question, text, "question_too_long", model=gen.model_id, t0=t0,
                      prompt_tokens=overhead)
    prepared = prepare_hits(
        hits,
        neutralise=cfg.defense == "full",
        defuse=cfg.defense != "none",
        threshold=cfg.injection_threshold,
    )
    spans = [sp for p in prepared for sp in p.injections]
    clean_context = "\n".join([question, *(p.text for p in prepared)])
    terms = [p for sp in spans for p in sp.payloads if p.lower() not in clean_context.lower()]
    sink = AnswerStream(stream_to, terms=[*terms, *cfg.canaries] if cfg.defense == "full" else ())
    ctx = ChainContext(
        gen, prompt, question, budget, count, cfg.generation_config(), sink,
        neutralise=cfg.defense == "full",
    )
    t_g = time.perf_counter()
    run = run_chain(cfg.chain, ctx, prepared)
    sink.close()
    t_c = time.perf_counter()
    answer = finalize(
        question, run.text, run.sources, spans=spans, config=cfg, embedder=embedder,
        clean_context="\n".join([question, *(s.text for s in run.sources)]),
        boundary=prompt.boundary,
    )
    t_end = time.perf_counter()
    answer.hits = list(hits)
    answer.dropped = run.dropped
    answer.chain = cfg.chain
    answer.model = gen.model_id
    answer.generator_calls = run.calls
    answer.prompt_tokens = run.prompt_tokens
    answer.context_tokens = sum(s.tokens for s in run.sources)
    answer.timings = {
        "retrieval": retrieval_seconds,
        "time_to_first_token": (sink.first_at or t_c) - t0,
        "generation": t_c - t_g,
        "check": t_end - t_c,
        "total": t_end - t0,
    }
    if sink.text.strip() != answer.text.strip() and stream_to is not None:
        answer.notes.append("the checked answer differs from the streamed text")
    if cfg.answer != "auto":
        return answer
    reason = fallback_reason(answer, [p.text for p in prepared])
    ranked = None
    if not reason:  # supported: keep it when it agrees with the extractive reading
        t_a = time.perf_counter()
        ranked = rank_sentences(question, hits, texts=extraction_texts(hits, cfg)[0],
                                embedder=scorer_embedder)
        claims = [s.text for s in answer.sentences if s.kind == "claim"]
        reason = agreement(question, claims or answer.text, ranked).reason()
        answer.timings["agreement"] = time.perf_counter() - t_a
        if not reason:
            return answer
    ext = extractive_answer(
        question, hits, config=cfg, embedder=scorer_embedder, stream_to=None, t0=t0,
        retrieval_seconds=retrieval_seconds, ranked=ranked,
    )
    if ext.status != "answered" and answer.status == "no_answer":
        return answer  # both say the sources do not answer: keep the model's words
    ext.fallback_reason = reason
    ext.generated = answer
    ext.model = answer.model
    ext.chain = answer.chain
    ext.prompt_tokens = answer.prompt_tokens
    ext.generator_calls = answer.generator_calls
    ext.dropped = answer.dropped
    ext.context_tokens = answer.context_tokens
    ext.timings = {**answer.timings, "extraction": ext.timings.get("extraction", 0.0),
                   "total": time.perf_counter() - t0}
    say(stream_to, f"\n\n[auto] {reason}; the answer quoted from the sources instead:\n"
                    f"{ext.text}", citations=True)
    return ext


def finalize(
    question: str,
    raw: str,
    sources: Sequence[Source],
    *,
    spans: Iterable[InjectionSpan] = (),
    config: AskConfig | None = None,
    embedder: Embedder | None = None,
    clean_context: str = "",
    boundary: str = "",
) -> Answer:
    """Turn the model's raw text into an ``Answer``: output check, citation renumbering and
    removal, support check, citations (cited, then inferred)."""
    cfg = config or AskConfig()
    spans = list(spans)
    text = strip_prompt_markup(raw, boundary).strip()
    removed_out: list[dict[str, str]] = []
    if cfg.defense == "full" or cfg.canaries:
        oc = check_output(
            text, spans if cfg.defense == "full" else [], context=clean_context,
            canaries=cfg.canaries, threshold=cfg.injection_threshold,
        )
        text, removed_out = oc.text, oc.removed
    by_n = {s.n: s for s in sources}
    mapper = CitationMapper(set(by_n))
    text = mapper.map_text(text).strip()
    # cited sources get 1..c in order of first citation; the others provisional numbers after
    numbering = dict(mapper.mapping)
    for s in sources:
        numbering.setdefault(s.n, len(numbering) + 1)
    texts = {numbering[n]: s.text for n, s in by_n.items()}
    results = check_support(
        text, texts, threshold=cfg.support_threshold, embedder=embedder,
    )
    n_cited = len(mapper.order)
    final: dict[int, int] = {i: i for i in range(1, n_cited + 1)}  # provisional -> final
    for r in results:
        for p in r.supported_by:
            if p not in final:
                final[p] = len(final) + 1
    back = {v: k for k, v in numbering.items()}  # provisional number -> prompt number
    sentences: list[SentenceSupport] = []
    cites_of: dict[int, list[int]] = {}
    quotes: dict[int, str] = {}
    for i, r in enumerate(results):
        sup = tuple(final[p] for p in r.supported_by)
        sentences.append(SentenceSupport(r.text, r.cited, sup, r.score, r.kind))  # type: ignore[arg-type]
        for p, f in zip(r.supported_by, sup, strict=True):
            cites_of.setdefault(f, []).append(i)
            quotes.setdefault(f, r.best_quote.get(p, ""))
    citations = []
    for prov, f in sorted(final.items(), key=lambda kv: kv[1]):
        src = by_n[back[prov]]
        c = src.chunk
        citations.append(
            Citation(
                n=f, chunk_id=c.id, source=c.source or c.doc_id, location=c.location,
                text=src.text, quote=quotes.get(f, ""), inferred=f > n_cited,
                sentences=tuple(cites_of.get(f, [])), score=src.hit.score, prompt_n=src.n,
            )
        )
    status: Status = "answered"
    claims = [s for s in sentences if s.kind == "claim"]
    if not text:
        text = (
            "No answer: what the model wrote only repeated instruction-like text from the "
            "sources, and was removed." if removed_out else NO_ANSWER
        )
        status = "no_answer"
    elif any(s.kind == "refusal" for s in sentences) and not any(s.supported_by for s in claims):
        status = "no_answer"
    return Answer(
        question=question,
        text=text,
        citations=citations,
        unsupported=[s.text for s in claims if not s.supported_by],
        removed_citations=list(mapper.removed),
        injections=spans,
        output_removed=removed_out,
        sentences=sentences,
        status=status,
        raw_text=raw,
    )


def closed_book(
    question: str,
    *,
    model: Generator | str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    stream_to: Any = None,
) -> Answer:
    """Answer without sources (the evaluation baseline): what the model knows by itself."""
    t0 = time.perf_counter()
    gen = resolve_generator(model)
    sink = AnswerStream(stream_to)
    ts = gen.generate(RagPrompt.closed_book_messages(question), max_new_tokens=max_new_tokens)
    for tok in ts:
        sink.write(tok.text)
    sink.close()
    done = ts.completion()
    t_end = time.perf_counter()
    return Answer(
        question=question, text=done.text.strip(), status="closed_book", chain="closed_book",
        model=gen.model_id, prompt_tokens=done.prompt_tokens, generator_calls=1,
        raw_text=done.text,
        timings={"time_to_first_token": (sink.first_at or t_end) - t0, "generation": t_end - t0,
                 "total": t_end - t0},
    )


__all__ = [
    "ANSWER_MODES",
    "DEFAULT_CONTEXT_TOKENS",
    "DEFAULT_K",
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_MIN_SCORE",
    "AskConfig",
    "answer_from_hits",
    "ask",
    "closed_book",
    "extractive_answer",
    "fallback_reason",
    "finalize",
    "resolve_generator",
]
