"""One generation at a time per loaded model, behind a bounded queue.

llama.cpp contexts are not thread-safe, so every generation (chat, completions, ask, tasks)
runs on the model's one worker thread, in arrival order. ``admit()`` reserves a place (running
or waiting) or raises ``QueueFullError`` (HTTP 429 with ``Retry-After``). A generation checks
its ``cancel`` event between tokens: a client that disconnects stops its generation.

>>> import asyncio, threading
>>> q = GenerationQueue(size=1)
>>> async def two():
...     a = q.admit()
...     try:
...         q.admit()
...     except QueueFullError as e:
...         full = str(e)
...     async with a:
...         out = await a.run(lambda: 6 * 7)
...     return out, full.startswith("the generation queue is full")
>>> asyncio.run(two())
(42, True)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ponder.errors import PonderError
from ponder.llm.base import Completion, Generator, Token, TokenStream

T = TypeVar("T")


class QueueFullError(PonderError):
    """Too many generations running or waiting; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Slot:
    """A place in the queue. ``async with slot`` waits for the model; ``run`` runs work on the
    model's thread; leaving (or ``release``) frees the place. Releasing twice is harmless."""

    def __init__(self, queue: GenerationQueue) -> None:
        self.queue = queue
        self.cancel = threading.Event()
        self._locked = False
        self._released = False
        self._inflight = 0
        self._release_pending = False

    async def __aenter__(self) -> Slot:
        await self.queue._lock.acquire()
        self._locked = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the model's thread. If the caller is cancelled (the client
        went away), ``cancel`` is set; the place is freed only once the work has stopped."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.queue.executor, fn, *args)
        self._inflight += 1
        fut.add_done_callback(self._work_done)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            self.cancel.set()
            raise

    def _work_done(self, _: Any) -> None:
        self._inflight -= 1
        if self._release_pending and not self._inflight:
            self.release()

    def release(self) -> None:
        """Free the place (now, or when the work in flight has stopped)."""
        if self._inflight:
            self._release_pending = True
            self.cancel.set()
            return
        if self._locked:
            self._locked = False
            self.queue._lock.release()
        if not self._released:
            self._released = True
            self.queue._count -= 1
            if self.queue.on_depth:
                self.queue.on_depth(self.queue._count)


class GenerationQueue:
    """The admission queue of one model: ``size`` places (the one running included)."""

    def __init__(
        self,
        size: int = 8,
        *,
        retry_after: int = 2,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.size = max(1, size)
        self.retry_after = retry_after
        self.on_depth = on_depth
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="ponder-generate")
        self._lock = asyncio.Lock()
        self._count = 0

    @property
    def depth(self) -> int:
        return self._count

    def admit(self) -> Slot:
        if self._count >= self.size:
            raise QueueFullError(
                f"the generation queue is full ({self._count} running or waiting, limit "
                f"{self.size}): retry after {self.retry_after} s",
                self.retry_after,
            )
        self._count += 1
        if self.on_depth:
            self.on_depth(self._count)
        return Slot(self)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def stream_tokens(
    stream: TokenStream, cancel: threading.Event, emit: Callable[[Token], None] | None = None
) -> tuple[Completion, bool]:
    """Consume ``stream`` (on the model's thread), handing each token to ``emit``; stop early
    when ``cancel`` is set. Returns the completion and whether it was cancelled."""
    cancelled = False
    try:
        for tok in stream:
            if cancel.is_set():
                cancelled = True
                break
            if emit is not None:
                emit(tok)
    finally:
        if cancelled or cancel.is_set():
            stream.close()
    return stream.completion(), cancelled


def generate(
    gen: Generator, prompt: Any, cancel: threading.Event,
    emit: Callable[[Token], None] | None = None, **kwargs: Any,
) -> tuple[Completion, bool]:
    """``gen.generate(prompt, **kwargs)`` consumed by ``stream_tokens`` (on the model's thread)."""
    return stream_tokens(gen.generate(prompt, **kwargs), cancel, emit)


class ThreadToAsync:
    """Hands items from a worker thread to an async consumer, in order; ``None`` ends."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def put(self, item: Any) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    async def get(self) -> Any:
        return await self.queue.get()


__all__ = ["GenerationQueue", "QueueFullError", "Slot", "ThreadToAsync", "generate",
           "stream_tokens"]
