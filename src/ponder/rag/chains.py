"""The ways to answer from sources: four built-in chains, and a registry for yours.

============  =================================================  ===========================
chain         what it does                                       generator calls (n sources)
============  =================================================  ===========================
stuff         all sources that fit the budget in one prompt       1
map_reduce    map: each source alone -> the sentences that help   n + 1 (n when no source
              (or NONE); reduce: answer from those notes          helps: no reduce call)
refine        answer from the first batch that fits, then         number of batches
              improve the draft with each following batch
map_rerank    answer from each source alone, score each answer    n generations + n scorings
              (``logprobs`` of "Yes" vs "No" to "does the source
              contain the answer?"), keep the best
============  =================================================  ===========================

``stuff`` is the default and the only one that sees no more than the budget; the others read
every retrieved source (``-k`` of them) whatever their total size, at the cost of more calls,
and the small default model loses more in each extra step than it gains (see
``bench/results/ask.md``). Only the final step streams; ``map_rerank`` shows its chosen
answer at once.

A chain is any callable ``(ctx, items) -> ChainRun`` (the ``AnswerChain`` protocol);
``register_chain(name, fn)`` makes ``ask(..., chain=name)`` and ``--chain name`` use it.

>>> from ponder.llm.fake import ScriptedGenerator
>>> from ponder.types import Chunk, Hit
>>> from ponder.rag.packing import PreparedHit
>>> from ponder.rag.prompt import RagPrompt
>>> hits = [PreparedHit(Hit(Chunk(f"c{i}", "d", f"Fact {i}."), 1.0, i + 1), f"Fact {i}.", ())
...         for i in range(3)]
>>> g = ScriptedGenerator(["Fact 0.", "NONE", "Fact 2.", "Fact 0 and fact 2 [1][3]."])
>>> ctx = ChainContext(g, RagPrompt("fence", "ab12cd34"), "Which facts?", budget=200,
...                    count_tokens=lambda t: len(t.split()))
>>> run = run_chain("map_reduce", ctx, hits)
>>> run.text, run.calls, [s.n for s in run.sources]
('Fact 0 and fact 2 [1][3].', 4, [1, 3])
"""

from __future__ import annotations

import math
import re
from collections.abc import KeysView, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from ponder.errors import ConfigError
from ponder.llm.base import Generator, Message
from ponder.llm.config import GenerationConfig
from ponder.rag.citations import is_refusal
from ponder.rag.packing import (
    CountTokens,
    PreparedHit,
    Source,
    batches,
    pack_sources,
    prepare_hits,
)
from ponder.rag.prompt import NO_ANSWER, RagPrompt, strip_prompt_markup

#: the built-in chains (``CHAINS`` also holds registered ones)
Chain = Literal["stuff", "map_reduce", "refine", "map_rerank"]
_NONE = re.compile(r"^\W*none\b", re.IGNORECASE)


class Sink(Protocol):
    """Where the final step's tokens go: ``begin(sources)`` once (the sources whose numbers
    the text may cite), then ``write(piece)`` for each piece."""

    def begin(self, sources: Sequence[Source]) -> None: ...

    def write(self, piece: str) -> None: ...


@dataclass
class ChainContext:
    """What every chain needs: the model, the prompt builder, the question, the token budget
    for sources per call, a token counter, the decoding config and where to stream."""

    generator: Generator
    prompt: RagPrompt
    question: str
    budget: int
    count_tokens: CountTokens
    config: GenerationConfig = field(default_factory=GenerationConfig)
    sink: Sink | None = None
    neutralise: bool = True

    def overhead(self, item: PreparedHit, n: int) -> int:
        label = Source(n, item.hit, "", 0).label
        return self.count_tokens(self.prompt.source_overhead(label))


@dataclass
class ChainRun:
    """The outcome of a chain: the final raw text, the sources its ``[n]`` may refer to, the
    calls made, the final prompt's size, the ids left out and a record of each step."""

    text: str
    sources: list[Source]
    calls: int = 0
    prompt_tokens: int = 0
    dropped: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


class RepeatGuard:
    """Stops a small model's loops: a sentence that repeats an earlier one ends the answer
    (and is dropped). Text that could be the start of such a repeat is held back until it is
    known not to be one, so a loop is never shown.

    >>> g = RepeatGuard()
    >>> g.feed("The Nile flows north. It is long. The Nile"), g.feed(" flows north. More")
    (('The Nile flows north. It is long. ', False), ('', True))
    >>> g.text
    'The Nile flows north. It is long.'
    """

    MIN_CHARS = 12
    _END = re.compile(r"[.!?]+[\"')\]]*\s|\n")

    def __init__(self) -> None:
        self._buf = ""
        self._start = 0  # where the current sentence starts in _buf
        self._shown = 0  # how much of _buf has been released
        self._seen: set[str] = set()
        self.stopped = False

    @staticmethod
    def _norm(s: str) -> str:
        return " ".join(s.lower().split())

    def feed(self, piece: str) -> tuple[str, bool]:
        """Add ``piece``; returns the text safe to show now and whether to stop."""
        if self.stopped:
            return "", True
        self._buf += piece
        while True:
            m = self._END.search(self._buf, self._start)
            if m is None:
                break
            sent = self._norm(self._buf[self._start : m.end()])
            if len(sent) >= self.MIN_CHARS and sent in self._seen:
                return self._stop()
            if sent:
                self._seen.add(sent)
            self._start = m.end()
        partial = self._norm(self._buf[self._start :])
        hold = bool(partial) and any(
            len(s) >= self.MIN_CHARS and s.startswith(partial) for s in self._seen
        )
        upto = self._start if hold else len(self._buf)
        out = self._buf[self._shown : max(upto, self._shown)]
        self._shown = max(upto, self._shown)
        return out, False

    def _stop(self) -> tuple[str, bool]:
        self.stopped = True
        self._buf = self._buf[: self._start]
        out = self._buf[self._shown :]
        self._shown = len(self._buf)
        return out, True

    def finish(self) -> str:
        """The rest of the text at the end of the stream (a final repeat is dropped)."""
        if self.stopped:
            return ""
        last = self._norm(self._buf[self._start :])
        if last and any(len(s) >= self.MIN_CHARS and s.startswith(last) for s in self._seen):
            self._buf = self._buf[: self._start]
        out = self._buf[self._shown :]
        self._shown = len(self._buf)
        return out

    @property
    def text(self) -> str:
        return self._buf.rstrip()


def _generate(
    ctx: ChainContext, messages: list[Message], *, stream: bool, sources: Sequence[Source]
) -> tuple[str, int]:
    """Run one generation (streamed to the sink when ``stream``), stopping at a repeated
    sentence. Returns (text, prompt tokens)."""
    sink = ctx.sink if stream else None
    if sink is not None:
        sink.begin(sources)
    guard = RepeatGuard()
    ts = ctx.generator.generate(messages, ctx.config)
    try:
        for tok in ts:
            if not tok.text:
                continue
            shown, stop = guard.feed(tok.text)
            if sink is not None and shown:
                sink.write(shown)
            if stop:
                break
    finally:
        ts.close()
    rest = guard.finish()
    if sink is not None and rest:
        sink.write(rest)
    return guard.text, ts.info.prompt_tokens


def _note(ctx: ChainContext, text: str) -> str:
    """A model output that goes into the next prompt (a map note, a refine draft), without the
    fence markup it may have copied: this request's boundary must never reach a later fence."""
    return strip_prompt_markup(text, ctx.prompt.boundary)


def _emit_whole(ctx: ChainContext, text: str, sources: Sequence[Source]) -> None:
    if ctx.sink is not None:
        ctx.sink.begin(sources)
        ctx.sink.write(text)


def stuff(ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    sources, dropped = pack_sources(
        items, budget=ctx.budget, count_tokens=ctx.count_tokens, question=ctx.question,
        overhead=ctx.overhead,
    )
    text, ptoks = _generate(
        ctx, ctx.prompt.answer_messages(ctx.question, sources), stream=True, sources=sources
    )
    step = {"step": "stuff", "sources": [s.n for s in sources], "text": text}
    return ChainRun(text, sources, 1, ptoks, dropped, [step])


def _singles(ctx: ChainContext, items: Sequence[PreparedHit]) -> list[Source]:
    """Each item as its own source (cut to the budget when it is larger), numbered 1..n."""
    out = []
    for b in batches(items, budget=ctx.budget, count_tokens=ctx.count_tokens,
                     question=ctx.question, overhead=ctx.overhead, min_tokens=1):
        out.extend(b)
    return [replace(s, n=i) for i, s in enumerate(out, start=1)]


def map_reduce(ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    run = ChainRun("", [])
    notes: list[PreparedHit] = []
    singles = _singles(ctx, items)
    by_id = {s.chunk.id: s for s in singles}
    for src in singles:
        text, _ = _generate(ctx, ctx.prompt.map_messages(ctx.question, [src]), stream=False,
                            sources=[src])
        run.calls += 1
        keep = bool(text.strip()) and not _NONE.match(text) and not is_refusal(text)
        run.steps.append({"step": "map", "sources": [src.n], "text": text, "kept": keep})
        if keep:
            notes.append(PreparedHit(src.hit, _note(ctx, text), src.injections))
    if not notes:
        run.text = NO_ANSWER
        _emit_whole(ctx, run.text, [])
        run.steps.append({"step": "reduce", "skipped": "no source helps"})
        return run
    # the notes came out of the model after reading the sources: neutralise them again
    if ctx.neutralise:
        notes = [
            PreparedHit(p.hit, q.text, p.injections + q.injections)
            for p, q in zip(notes, prepare_hits([replace(p.hit, chunk=replace(
                p.hit.chunk, text=p.text)) for p in notes]), strict=True)
        ]
    packed, dropped = pack_sources(
        notes, budget=ctx.budget, count_tokens=ctx.count_tokens, question=ctx.question,
        overhead=ctx.overhead,
    )
    # keep each note's original number so that citations point at the original source
    reduce_sources = [replace(s, n=by_id[s.chunk.id].n) for s in packed]
    text, ptoks = _generate(
        ctx, ctx.prompt.answer_messages(ctx.question, reduce_sources), stream=True,
        sources=reduce_sources,
    )
    run.calls += 1
    run.steps.append({"step": "reduce", "sources": [s.n for s in reduce_sources], "text": text})
    # citations are checked against the original sources, not the notes
    run.text = text
    run.sources = [by_id[s.chunk.id] for s in reduce_sources]
    run.prompt_tokens = ptoks
    run.dropped = dropped
    return run


def refine(ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    draft_room = min(ctx.config.max_new_tokens + 16, ctx.budget // 3)
    groups = batches(items, budget=max(ctx.budget - draft_room, 1), count_tokens=ctx.count_tokens,
                     question=ctx.question, overhead=ctx.overhead, min_tokens=1)
    run = ChainRun("", [])
    seen: list[Source] = []
    draft = ""
    for i, group in enumerate(groups):
        last = i == len(groups) - 1
        seen.extend(group)
        if i == 0:
            messages = ctx.prompt.answer_messages(ctx.question, group)
        else:
            messages = ctx.prompt.refine_messages(ctx.question, draft, group)
        draft, ptoks = _generate(ctx, messages, stream=last, sources=list(seen))
        if not last:
            draft = _note(ctx, draft)
        run.calls += 1
        run.prompt_tokens = ptoks
        run.steps.append({"step": "answer" if i == 0 else "refine",
                          "sources": [s.n for s in group], "text": draft})
    if not groups:
        draft = NO_ANSWER
        _emit_whole(ctx, draft, [])
    run.text = draft
    run.sources = seen
    return run


def map_rerank(ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    run = ChainRun("", [])
    best: tuple[float, str, Source] | None = None
    for single in _singles(ctx, items):
        src = replace(single, n=1)  # alone in its prompt, each source is [1]
        text, ptoks = _generate(ctx, ctx.prompt.answer_messages(ctx.question, [src]),
                                stream=False, sources=[src])
        run.calls += 1
        if not text.strip() or is_refusal(text):
            value = -math.inf
        else:
            score = _score(ctx, src, text)
            run.calls += score is not None
            value = score or 0.0
        run.steps.append({"step": "map", "sources": [single.n], "text": text, "score": value})
        if best is None or value > best[0]:
            best = (value, text, src)
            run.prompt_tokens = ptoks
    if best is None:
        run.text = NO_ANSWER
        _emit_whole(ctx, run.text, [])
        return run
    _, run.text, chosen = best
    run.sources = [chosen]
    _emit_whole(ctx, run.text, run.sources)
    return run


def _score(ctx: ChainContext, src: Source, answer: str) -> float | None:
    """log P("Yes") - log P("No") for "does the source contain the answer?", or the answer's
    mean token log-probability when the model cannot score continuations (``None`` if
    neither is available)."""
    g = ctx.generator
    if g.supports_logprobs and answer.strip():
        lp = g.logprobs(ctx.prompt.rerank_messages(ctx.question, src, answer), ["Yes", "No"])
        return float(lp[0] - lp[1])
    return None


class AnswerChain(Protocol):
    """The extension point for answering from sources: one call.

    It answers ``ctx.question`` from ``items`` (retrieved, fenced, in rank order): it calls
    ``ctx.generator`` as often as it needs, streams its final text to ``ctx.sink`` (``begin``
    with the sources that text may cite, then ``write``), and returns a ``ChainRun``.
    """

    def __call__(self, ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun: ...


_CHAINS: dict[str, AnswerChain] = {}
#: every chain name ``run_chain`` accepts (a live view: it grows with ``register_chain``)
CHAINS: KeysView[str] = _CHAINS.keys()


def register_chain(name: str, chain: AnswerChain, *, replace: bool = False) -> AnswerChain:
    """Make ``chain`` available as ``name`` to ``run_chain``, ``ask`` and ``--chain``.

    >>> def first_only(ctx, items):
    ...     return stuff(ctx, items[:1])
    >>> _ = register_chain("first_only", first_only)
    >>> "first_only" in CHAINS
    True
    >>> register_chain("stuff", first_only)
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: chain 'stuff' is already registered; pass replace=True to replace it
    >>> unregister_chain("first_only") is first_only
    True
    """
    if not (isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9_]*", name)):
        raise ConfigError(
            f"chain name {name!r}: use lower-case letters, digits and '_', starting with a letter"
        )
    if not callable(chain):
        raise ConfigError(
            f"chain {name!r} must be callable as chain(ctx, items) -> ChainRun, got {chain!r}"
        )
    if name in _CHAINS and _CHAINS[name] is not chain and not replace:
        raise ConfigError(
            f"chain {name!r} is already registered; pass replace=True to replace it"
        )
    _CHAINS[name] = chain
    return chain


def unregister_chain(name: str) -> AnswerChain:
    """Remove the chain called ``name``; returns it."""
    try:
        return _CHAINS.pop(name)
    except KeyError:
        raise ConfigError(f"unknown chain {name!r}; choose one of {', '.join(CHAINS)}") from None


def run_chain(name: str, ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    """Answer ``ctx.question`` from ``items`` with the chain called ``name``."""
    fn = _CHAINS.get(name)
    if fn is None:
        raise ConfigError(f"unknown chain {name!r}; choose one of {', '.join(CHAINS)}")
    run = fn(ctx, items)
    if not isinstance(run, ChainRun):
        raise ConfigError(
            f"chain {name!r} returned {type(run).__name__}, not a ChainRun: return "
            "ChainRun(text, sources, ...)"
        )
    return run


for _name, _fn in (("stuff", stuff), ("map_reduce", map_reduce), ("refine", refine),
                   ("map_rerank", map_rerank)):
    register_chain(_name, _fn)


__all__ = [
    "CHAINS",
    "AnswerChain",
    "Chain",
    "ChainContext",
    "ChainRun",
    "Sink",
    "register_chain",
    "run_chain",
    "unregister_chain",
]
