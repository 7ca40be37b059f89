"""``POST /v1/ask``: answer a question from a collection with checked citations.

Streaming (``"stream": true``) sends server-sent events: ``event: token`` with
``{"text": ...}`` as the answer is written (citation numbers already renumbered), then one
``event: final`` with the whole ``Answer.to_dict()`` (citations, unsupported sentences,
injections, timings). Otherwise one JSON body, the same dictionary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request

from ponder.errors import InputError, PonderError
from ponder.rag import ask as run_ask
from ponder.server.auth import Caller, authorize
from ponder.server.errors import error_payload
from ponder.server.limits import check_k, check_max_tokens, check_where
from ponder.server.schemas import AskRequest, AskResponse, ErrorResponse
from ponder.server.streaming import DONE, run_generation, sse, stream_generation

router = APIRouter(tags=["Ask"], responses={"4XX": {"model": ErrorResponse}})


class ClientGone(PonderError):
    """Raised inside the answer stream when the client has disconnected."""


def ask_options(req: AskRequest) -> dict[str, Any]:
    """``ponder.rag.ask`` keyword options from the request (unset ones left out, so that
    ``ask``'s own defaults apply).

    >>> ask_options(AskRequest(question="q", collection="c", k=2, max_tokens=8))
    {'k': 2, 'max_new_tokens': 8}
    """
    opts = {
        "k": req.k, "where": req.where, "chain": req.chain, "retrieval": req.retrieval,
        "fusion": req.fusion, "weights": tuple(req.weights) if req.weights else None,
        "min_score": req.min_score, "max_new_tokens": req.max_tokens,
        "max_context_tokens": req.context_tokens, "defense": req.defense,
        "support": req.support, "answer": req.answer,
    }
    return {k: v for k, v in opts.items() if v is not None}


@router.post("/v1/ask", response_model=AskResponse,
             summary="Answer a question from a collection (SSE when stream=true)")
async def ask(req: AskRequest, request: Request, key: Caller) -> Any:
    state = request.app.state.ponder
    authorize(key, "read", req.collection)
    if req.k is not None:
        check_k(req.k, state.limits)
    check_where(req.where, state.limits)
    check_max_tokens(req.max_tokens, state.limits)
    if not req.question.strip():
        raise InputError("question is blank: ask something")
    rag = state.rag_model  # a registered model answers for its own collection snapshot
    served = rag is not None and req.collection == rag.snapshot.name
    oc = None if served else await state.in_io(state.collection, req.collection)
    options = ask_options(req)
    gen = None if served else state.generator

    def work(cancel: threading.Event, emit: Callable[[Any], None] | None = None) -> Any:
        def write(text: str) -> None:
            if cancel.is_set():
                raise ClientGone("the client disconnected")
            if emit is not None and text:
                emit(text)

        if oc is None:  # the model's snapshot, generator and logged options (request wins)
            return rag.answer(req.question, stream_to=write, **options)
        with oc.reading() as col:
            return run_ask(req.question, collection=col, model=gen, stream_to=write, **options)

    if not req.stream:
        answer = await run_generation(state, request, lambda c: work(c))
        return answer.to_dict()

    def render(item: Any) -> list[str]:
        if isinstance(item, tuple) and item and item[0] is DONE:
            return [sse(item[1].to_dict(), event="final")]
        return [sse({"text": item}, event="token")]

    def on_error(e: Exception) -> str:
        return sse(error_payload(e)[1], event="error")

    return stream_generation(state, request, work, render, on_error=on_error)


__all__ = ["ask_options", "router"]
