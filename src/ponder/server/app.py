"""The FastAPI application: ``create_app(ServerConfig(...))``.

Routes live by concern in ``openai.py``, ``collections.py``, ``jobs.py``, ``ask.py`` and
``tasks.py``; this module adds ``/health``, ``/ready``, ``/metrics``, the web page at ``/``,
the error handlers (every error is ``{"error": {...}}`` naming the problem), the body-size
limit and the request metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ponder.errors import PonderError
from ponder.server import ask, collections, jobs, openai, tasks
from ponder.server.auth import Caller, authorize
from ponder.server.errors import error_payload, validation_message
from ponder.server.schemas import ErrorResponse, Health, Ready
from ponder.server.state import ServerConfig, ServerState

log = logging.getLogger("ponder.server")
STATIC = Path(__file__).parent / "static"


class BodyLimit:
    """Refuse request bodies over the limit with 413, from ``Content-Length`` or while
    reading a chunked body (multipart uploads get the upload limit)."""

    def __init__(self, app: ASGIApp, limits: Any) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = (self.limits.max_upload_bytes + 65536 if ctype.startswith("multipart/")
                 else self.limits.max_body_bytes)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(send, int(length), limit)
            return
        if length is not None or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        # a chunked body: read it up to the limit before the app sees it
        buffered: list[Message] = []
        seen = 0
        while True:
            msg = await receive()
            buffered.append(msg)
            if msg["type"] != "http.request":
                break
            seen += len(msg.get("body", b""))
            if seen > limit:
                await self._refuse(send, seen, limit)
                return
            if not msg.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, size: int, limit: int) -> None:
        body = json.dumps({"error": {
            "message": f"request body of {size}+ bytes is over the limit of {limit} bytes: send "
                       "less (split uploads or batches)",
            "type": "invalid_request_error", "param": None, "code": 413}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Count requests and time them by route template (plain ASGI: the request's ``receive``
    is passed through untouched, so disconnects reach the routes)."""

    def __init__(self, app: ASGIApp, metrics: Any) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or (
                "unmatched" if status[0] == 404 else scope.get("path", ""))
            self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()
            self.metrics.latency.labels(scope["method"], path).observe(
                time.perf_counter() - started)


def _error_response(e: BaseException) -> JSONResponse:
    status, body = error_payload(e)
    headers = {}
    retry = getattr(e, "retry_after", None)
    if retry is not None:
        headers["Retry-After"] = str(retry)
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500:
        log.error("request failed: %s: %s", type(e).__name__, e)
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(config: ServerConfig) -> FastAPI:
    """Build the app. Models load at startup on a background thread (``/ready`` says when)."""
    state = ServerState(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = None
        if config.preload:
            loader = asyncio.get_running_loop().run_in_executor(None, state.load_models)
        try:
            yield
        finally:
            if loader is not None:
                with contextlib.suppress(Exception):
                    await loader
            if state._batcher is not None:
                await state._batcher.close()
            state.close()

    app = FastAPI(
        title=f"{config.title} server",
        version=_version(),
        summary="OpenAI-compatible chat, completions and embeddings, plus Ponder's collections, "
                "ask and tasks.",
        description=(
            "Send `Authorization: Bearer KEY` when the server has keys (`ponder keys create`). "
            "Errors are `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`; the message "
            "names the problem and the fix."
        ),
        lifespan=lifespan,
        responses={"4XX": {"model": ErrorResponse}},
    )
    app.state.ponder = state

    @app.exception_handler(PonderError)
    async def ponder_error(request: Request, e: PonderError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(e.errors()))
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                       "param": param, "code": 422}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        message = str(e.detail)
        if e.status_code == 404:
            message = f"no route {request.method} {request.url.path}: see /docs"
        elif e.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}: see /docs"
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                       "param": None, "code": e.status_code}},
                            status_code=e.status_code, headers=e.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, e: Exception) -> JSONResponse:
        return _error_response(e)

    app.add_middleware(RequestMetrics, metrics=state.metrics)
    app.add_middleware(BodyLimit, limits=config.limits)


    for module in (openai, collections, jobs, ask, tasks):
        app.include_router(module.router)

    @app.get("/health", response_model=Health, tags=["Server"],
             summary="Liveness (no key needed)")
    async def health() -> Any:
        return Health()

    @app.get("/ready", response_model=Ready, tags=["Server"],
             summary="Whether the models are loaded")
    async def ready(key: Caller) -> Any:
        gen = config.model if isinstance(config.model, str) else getattr(
            config.model, "model_id", "default")
        emb = config.embedder if isinstance(config.embedder, str) else getattr(
            config.embedder, "model_id", "default")
        return Ready(ready=state.ready, generator=str(gen or "default"),
                     embedder=str(emb or "default"), detail=state.ready_detail)

    @app.get("/metrics", tags=["Server"], summary="Prometheus metrics",
             response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def metrics(key: Caller) -> Response:
        authorize(key, "read")
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


def _version() -> str:
    try:
        return version("ponder")
    except Exception:
        return "0"


__all__ = ["BodyLimit", "create_app"]
