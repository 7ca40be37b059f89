"""OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/v1/completions``,
``/v1/embeddings``, ``/v1/models``. The official ``openai`` client works unchanged.

Sampling follows OpenAI: ``temperature=0`` is greedy; otherwise tokens are sampled with
``temperature`` (default 1) and ``top_p``; ``seed`` makes sampling repeatable. ``top_k`` and
``repetition_penalty`` are accepted as the extensions vLLM and llama.cpp's server accept.

>>> _finish("length"), _finish("error")
('length', 'stop')
>>> _message_text([ContentPart(text="a"), ContentPart(text="b")])
'a\\nb'
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ponder.errors import ConfigError, InputError
from ponder.llm.base import Completion, Message, Token
from ponder.server.auth import Caller, authorize
from ponder.server.errors import error_payload
from ponder.server.generation import generate
from ponder.server.limits import check_count, check_max_tokens
from ponder.server.schemas import (
    AssistantMessage,
    ChatChoice,
    ChatRequest,
    ChatResponse,
    ChoiceLogprobs,
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    ContentPart,
    EmbeddingRequest,
    EmbeddingResponse,
    ErrorResponse,
    LegacyLogprobs,
    ModelCard,
    ModelList,
    TokenLogprob,
    TopLogprob,
    Usage,
)
from ponder.server.streaming import DONE, run_generation, sse, stream_generation

router = APIRouter(tags=["OpenAI-compatible"], responses={"4XX": {"model": ErrorResponse}})
DEFAULT_MAX_TOKENS = 256


def _state(request: Request) -> Any:
    return request.app.state.ponder


def _finish(reason: str | None) -> str:
    return "length" if reason == "length" else "stop"


def _message_text(content: str | list[ContentPart]) -> str:
    return content if isinstance(content, str) else "\n".join(p.text for p in content)


def _decoding(req: ChatRequest | CompletionRequest, state: Any) -> dict[str, Any]:
    """``GenerationConfig`` overrides for an OpenAI request (checked against the limits)."""
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(req, name):
            raise ConfigError(f"{name} is not supported by this server: leave it at 0 (use "
                              "repetition_penalty to discourage repeats)")
    max_tokens = req.max_tokens
    if isinstance(req, ChatRequest) and req.max_completion_tokens is not None:
        max_tokens = req.max_completion_tokens
    check_max_tokens(max_tokens, state.limits)
    stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if len(stop) > 4:
        raise ConfigError(f"stop has {len(stop)} strings; OpenAI allows at most 4")
    if any(not s for s in stop):
        raise ConfigError("stop strings must not be empty")
    temperature = 1.0 if req.temperature is None else req.temperature
    kw: dict[str, Any] = {"max_new_tokens": max_tokens or DEFAULT_MAX_TOKENS, "stop": stop,
                          "seed": req.seed, "repetition_penalty": req.repetition_penalty}
    if temperature == 0:
        kw["strategy"] = "greedy"
    else:
        kw.update(strategy="sample", temperature=temperature, top_p=req.top_p,
                  top_k=req.top_k)
    return kw


def _with_seed(kw: dict[str, Any], i: int) -> dict[str, Any]:
    return {**kw, "seed": kw["seed"] + i} if kw.get("seed") is not None and i else kw


def _token_logprob(tok: Token, step: Any) -> float | None:
    if tok.logprob is not None:
        return float(tok.logprob)
    if step is not None and step.chosen.prob > 0:
        return math.log(step.chosen.prob)
    return None


def _top(step: Any, n: int) -> list[TopLogprob]:
    if step is None or not n:
        return []
    cands = sorted(step.candidates, key=lambda c: -c.prob)[:n]
    return [TopLogprob(token=c.text, logprob=math.log(c.prob) if c.prob > 0 else -1e9,
                       bytes=list(c.text.encode())) for c in cands]


def _chat_logprobs(comp: Completion, top_n: int) -> ChoiceLogprobs:
    steps = comp.trace.steps if comp.trace is not None else []
    content = []
    for i, tok in enumerate(comp.tokens):
        step = steps[i] if i < len(steps) else None
        lp = _token_logprob(tok, step)
        content.append(TokenLogprob(token=tok.text, logprob=lp,
                                    bytes=list(tok.text.encode()), top_logprobs=_top(step, top_n)))
    return ChoiceLogprobs(content=content)


def _check_logprobs(state: Any, wanted: bool) -> None:
    if wanted and not state.generator.supports_logprobs:
        raise ConfigError(
            f"model {state.generator.model_id!r} does not report log-probabilities: drop "
            "logprobs, or serve a llama.cpp or transformers model"
        )


# ------------------------------------------------------------------ chat
@router.post("/v1/chat/completions", response_model=ChatResponse,
             summary="Chat completion (OpenAI format; SSE when stream=true)")
async def chat_completions(req: ChatRequest, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read")
    state.check_model(req.model, "generator")
    kw = _decoding(req, state)
    _check_logprobs(state, req.logprobs)
    top_n = req.top_logprobs or 0
    messages = [Message(m.role, _message_text(m.content)) for m in req.messages]
    gen = state.generator
    cid = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    explain = bool(req.logprobs and top_n)

    def work(cancel: threading.Event, emit: Callable[[Any], None] | None = None
             ) -> list[Completion]:
        out = []
        for i in range(req.n):
            def on_token(tok: Token, i: int = i) -> None:
                if emit is not None:
                    emit((i, tok))
            comp, stopped = generate(gen, messages, cancel, on_token, explain=explain,
                                     **_with_seed(kw, i))
            out.append(comp)
            _count_tokens(state, comp)
            if stopped:
                break
        return out

    if not req.stream:
        comps = await run_generation(state, request, lambda c: work(c))
        choices = [
            ChatChoice(index=i, message=AssistantMessage(content=c.text),
                       finish_reason=_finish(c.finish_reason),  # type: ignore[arg-type]
                       logprobs=_chat_logprobs(c, top_n) if req.logprobs else None)
            for i, c in enumerate(comps)
        ]
        return ChatResponse(id=cid, created=created, model=req.model, choices=choices,
                            usage=_usage(comps))

    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    started: set[int] = set()

    def chunk(i: int, delta: dict[str, Any], finish: str | None = None,
              logprobs: Any = None) -> str:
        return sse({"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": req.model, "choices": [{"index": i, "delta": delta,
                                                     "logprobs": logprobs,
                                                     "finish_reason": finish}]})

    def render(item: Any) -> list[str]:
        if isinstance(item, tuple) and item and item[0] is DONE:
            comps: list[Completion] = item[1]
            out = [chunk(i, {}, _finish(c.finish_reason)) for i, c in enumerate(comps)]
            if include_usage:
                out.append(sse({"id": cid, "object": "chat.completion.chunk",
                                "created": created, "model": req.model, "choices": [],
                                "usage": _usage(comps).model_dump()}))
            return [*out, "data: [DONE]\n\n"]
        i, tok = item
        out = []
        if i not in started:
            started.add(i)
            out.append(chunk(i, {"role": "assistant", "content": ""}))
        lp = None
        if req.logprobs:
            lp = {"content": [{"token": tok.text, "logprob": tok.logprob,
                               "bytes": list(tok.text.encode()), "top_logprobs": []}]}
        if tok.text or lp:
            out.append(chunk(i, {"content": tok.text}, logprobs=lp))
        return out

    return stream_generation(state, request, work, render, on_error=_sse_error)


def _count_tokens(state: Any, comp: Completion) -> None:
    state.metrics.tokens.inc(comp.completion_tokens)
    if comp.tokens_per_second:
        state.metrics.tokens_per_second.observe(comp.tokens_per_second)


def _usage(comps: list[Completion]) -> Usage:
    prompt = comps[0].prompt_tokens if comps else 0
    done = sum(c.completion_tokens for c in comps)
    return Usage(prompt_tokens=prompt, completion_tokens=done, total_tokens=prompt + done)


def _sse_error(e: Exception) -> str:
    body = error_payload(e)[1]
    return sse(body) + "data: [DONE]\n\n"


# ------------------------------------------------------------------ completions
def _legacy_logprobs(comp: Completion, top_n: int) -> LegacyLogprobs:
    steps = comp.trace.steps if comp.trace is not None else []
    offsets, at = [], 0
    for t in comp.tokens:
        offsets.append(at)
        at += len(t.text)
    tops = None
    if top_n:
        tops = [{c.token: c.logprob for c in _top(steps[i] if i < len(steps) else None, top_n)}
                for i in range(len(comp.tokens))]
    return LegacyLogprobs(
        tokens=[t.text for t in comp.tokens],
        token_logprobs=[_token_logprob(t, steps[i] if i < len(steps) else None)
                        for i, t in enumerate(comp.tokens)],
        top_logprobs=tops, text_offset=offsets,
    )


@router.post("/v1/completions", response_model=CompletionResponse,
             summary="Text completion of a raw prompt (OpenAI legacy format)")
async def completions(req: CompletionRequest, request: Request,
                      key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read")
    state.check_model(req.model, "generator")
    kw = _decoding(req, state)
    prompts = [req.prompt] if isinstance(req.prompt, str) else list(req.prompt)
    if not prompts or any(not p for p in prompts):
        raise InputError("prompt is empty: give a text (or a list of non-empty texts)")
    check_count(len(prompts) * req.n, 16, "prompt")
    _check_logprobs(state, req.logprobs is not None)
    top_n = req.logprobs or 0
    gen = state.generator
    cid = "cmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())

    def work(cancel: threading.Event, emit: Callable[[Any], None] | None = None
             ) -> list[Completion]:
        out = []
        for p_i, prompt in enumerate(prompts):
            for j in range(req.n):
                idx = p_i * req.n + j

                def on_token(tok: Token, idx: int = idx) -> None:
                    if emit is not None:
                        emit((idx, tok))
                comp, stopped = generate(gen, prompt, cancel, on_token, raw=True,
                                         explain=bool(top_n), **_with_seed(kw, j))
                out.append(comp)
                _count_tokens(state, comp)
                if stopped:
                    return out
        return out

    def text_of(i: int, c: Completion) -> str:
        return (prompts[i // req.n] if req.echo else "") + c.text

    if not req.stream:
        comps = await run_generation(state, request, lambda c: work(c))
        choices = [CompletionChoice(index=i, text=text_of(i, c),
                                    finish_reason=_finish(c.finish_reason),  # type: ignore[arg-type]
                                    logprobs=_legacy_logprobs(c, top_n)
                                    if req.logprobs is not None else None)
                   for i, c in enumerate(comps)]
        usage = Usage(prompt_tokens=sum(c.prompt_tokens for c in comps[:: req.n]),
                      completion_tokens=sum(c.completion_tokens for c in comps),
                      total_tokens=0)
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        return CompletionResponse(id=cid, created=created, model=req.model, choices=choices,
                                  usage=usage)

    def chunk(i: int, text: str, finish: str | None = None) -> str:
        return sse({"id": cid, "object": "text_completion", "created": created,
                    "model": req.model, "choices": [{"index": i, "text": text,
                                                     "logprobs": None,
                                                     "finish_reason": finish}]})

    def render(item: Any) -> list[str]:
        if isinstance(item, tuple) and item and item[0] is DONE:
            return [*(chunk(i, "", _finish(c.finish_reason)) for i, c in enumerate(item[1])),
                    "data: [DONE]\n\n"]
        i, tok = item
        return [chunk(i, tok.text)] if tok.text else []

    return stream_generation(state, request, work, render, on_error=_sse_error)


# ------------------------------------------------------------------ embeddings, models
@router.post("/v1/embeddings", response_model=EmbeddingResponse,
             summary="Embeddings of a text or a list of texts (dynamically batched)")
async def embeddings(req: EmbeddingRequest, request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read")
    state.check_model(req.model, "embedder")
    texts = [req.input] if isinstance(req.input, str) else list(req.input)
    if not texts:
        raise InputError("input is an empty list: give a text or a list of texts")
    for i, t in enumerate(texts):
        if not t.strip():
            raise InputError(f"input[{i}] is empty: every input needs some text")
    check_count(len(texts), state.limits.max_batch_texts, "input")
    emb = state.embedder
    if req.dimensions is not None and req.dimensions != emb.dim:
        raise ConfigError(f"dimensions={req.dimensions}: this model makes {emb.dim}-dimensional "
                          "vectors and cannot shorten them; leave dimensions out")
    vecs = np.asarray(await state.batcher.embed(texts), dtype=np.float32)
    tokens = sum(emb.count_tokens(t) for t in texts)
    if req.encoding_format == "base64":
        values: list[Any] = [base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")
                             for v in vecs]
    else:
        values = vecs.tolist()
    # serialised here (the body is documented by EmbeddingResponse): pydantic would validate
    # every float of every vector again, which costs more than the batching saves
    body = {"object": "list", "model": req.model,
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(values)],
            "usage": {"prompt_tokens": tokens, "completion_tokens": 0, "total_tokens": tokens}}
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


@router.get("/v1/models", response_model=ModelList, summary="The served models")
async def models(request: Request, key: Caller) -> Any:
    state = _state(request)
    authorize(key, "read")
    cards = [ModelCard(id=name, created=state.started, kind=kind)  # type: ignore[arg-type]
             for name, kind in state.model_ids().items()]
    return ModelList(data=cards)


__all__ = ["router"]
