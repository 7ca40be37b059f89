"""The NLP tasks over HTTP: ``/v1/tasks/summarize``, ``sentiment``, ``classify``,
``translate``. Each takes a text or a list of texts and returns one result per text, as
``ponder.pipeline`` does; they share the model's generation queue.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder

from ponder.server.auth import Caller, authorize
from ponder.server.limits import check_count, check_max_tokens
from ponder.server.schemas import (
    ClassifyRequest,
    ErrorResponse,
    SentimentRequest,
    SummarizeRequest,
    TaskRequest,
    TaskResponse,
    TranslateRequest,
)
from ponder.server.streaming import run_generation
from ponder.tasks import pipeline

router = APIRouter(tags=["Tasks"], responses={"4XX": {"model": ErrorResponse}})


async def _run_task(request: Request, key: Any, task: str, req: TaskRequest,
                    **options: Any) -> TaskResponse:
    state = request.app.state.ponder
    authorize(key, "read")
    texts = [req.text] if isinstance(req.text, str) else list(req.text)
    check_count(len(texts), state.limits.max_task_texts, "text")
    opts = {k: v for k, v in options.items() if v is not None}
    check_max_tokens(opts.get("max_new_tokens"), state.limits)
    pipe = pipeline(task, model=state.generator, embedder=state.embedder, **opts)

    def work(cancel: threading.Event) -> list[dict[str, Any]]:
        out = []
        for text in texts:
            if cancel.is_set():
                break
            out.append(pipe(text).to_dict())
        return out

    results = await run_generation(state, request, work)
    return TaskResponse(task=task, results=jsonable_encoder(results))


@router.post("/v1/tasks/summarize", response_model=TaskResponse, summary="Summarize text")
async def summarize(req: SummarizeRequest, request: Request, key: Caller) -> Any:
    return await _run_task(request, key, "summarization", req, method=req.method,
                           max_new_tokens=req.max_tokens)


@router.post("/v1/tasks/sentiment", response_model=TaskResponse,
             summary="Sentiment: label, score, scores")
async def sentiment(req: SentimentRequest, request: Request, key: Caller) -> Any:
    return await _run_task(request, key, "sentiment-analysis", req, method=req.method)


@router.post("/v1/tasks/classify", response_model=TaskResponse,
             summary="Zero-shot classification into the given labels")
async def classify(req: ClassifyRequest, request: Request, key: Caller) -> Any:
    return await _run_task(request, key, "zero-shot-classification", req, labels=req.labels,
                           multi_label=req.multi_label or None, method=req.method)


@router.post("/v1/tasks/translate", response_model=TaskResponse, summary="Translate text")
async def translate(req: TranslateRequest, request: Request, key: Caller) -> Any:
    return await _run_task(request, key, "translation", req, target=req.target,
                           source=req.source, max_new_tokens=req.max_tokens)


__all__ = ["router"]
