"""Running generations from routes: a place in the queue, the work on the model's thread,
disconnect and timeout watching, and server-sent events.

>>> sse({"a": 1})
'data: {"a": 1}\\n\\n'
>>> sse({"text": "hi"}, event="token")
'event: token\\ndata: {"text": "hi"}\\n\\n'
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from ponder.server.generation import ThreadToAsync
from ponder.server.limits import LimitError

DONE = object()


def sse(data: Any, event: str | None = None) -> str:
    """One server-sent event (``data`` as JSON unless it is already a string)."""
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {body}\n\n"


async def watch(request: Request, cancel: threading.Event, timeout: float,
                flags: dict[str, bool]) -> None:
    """Set ``cancel`` when the client disconnects or ``timeout`` seconds pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cancel.is_set():
        if await request.is_disconnected():
            flags["disconnected"] = True
            cancel.set()
            return
        if loop.time() >= deadline:
            flags["timed_out"] = True
            cancel.set()
            return
        await asyncio.sleep(0.05)


async def run_generation(state: Any, request: Request, work: Callable[[threading.Event], Any]
                         ) -> Any:
    """Admit (or 429), wait for the model, run ``work(cancel)`` on its thread while watching
    for a disconnect or the request timeout (408)."""
    slot = state.queue.admit()
    async with slot:
        flags: dict[str, bool] = {}
        watcher = asyncio.create_task(
            watch(request, slot.cancel, state.limits.request_timeout, flags))
        try:
            result = await slot.run(work, slot.cancel)
        finally:
            watcher.cancel()
    if flags.get("disconnected"):
        state.metrics.cancelled.inc()
    if flags.get("timed_out"):
        raise LimitError(
            f"the request took longer than the server's limit of "
            f"{state.limits.request_timeout:.0f} s and was stopped: ask for fewer tokens",
            status=408,
        )
    return result


def stream_generation(
    state: Any,
    request: Request,
    work: Callable[[threading.Event, Callable[[Any], None]], Any],
    render: Callable[[Any], list[str]],
    *,
    on_error: Callable[[Exception], str],
    headers: dict[str, str] | None = None,
) -> StreamingResponse:
    """An SSE response: ``work(cancel, emit)`` runs on the model's thread and ``emit``s items;
    each item becomes events through ``render``; ``DONE`` is rendered last with the work's
    result as ``(DONE, result)``. The place in the queue is taken now (429 before any byte)."""
    slot = state.queue.admit()

    async def events() -> AsyncIterator[str]:
        flags: dict[str, bool] = {}
        watcher: asyncio.Task[None] | None = None
        try:
            async with slot:
                bridge = ThreadToAsync()

                def run(cancel: threading.Event) -> Any:
                    try:
                        return work(cancel, bridge.put)
                    finally:
                        bridge.put(DONE)

                watcher = asyncio.create_task(
                    watch(request, slot.cancel, state.limits.request_timeout, flags))
                task = asyncio.ensure_future(slot.run(run, slot.cancel))
                while True:
                    item = await bridge.get()
                    if item is DONE:
                        break
                    for chunk in render(item):
                        yield chunk
                try:
                    result = await task
                except Exception as e:
                    yield on_error(e)
                    return
                for chunk in render((DONE, result)):
                    yield chunk
        finally:
            if watcher is not None:
                watcher.cancel()
            if flags.get("disconnected"):
                state.metrics.cancelled.inc()
            slot.release()

    async def guarded() -> AsyncIterator[str]:
        gen = events()
        try:
            async for chunk in gen:
                yield chunk
        except BaseException:
            slot.cancel.set()
            raise
        finally:
            with contextlib.suppress(BaseException):
                await gen.aclose()
            slot.release()

    from starlette.background import BackgroundTask

    return StreamingResponse(
        guarded(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
        background=BackgroundTask(slot.release),
    )


__all__ = ["DONE", "run_generation", "sse", "stream_generation", "watch"]
