"""Dynamic batching of embedding requests: texts that arrive together go to one ``embed_batch``.

A request waits at most ``wait_ms`` for company (none once ``max_batch`` texts are waiting);
while one batch runs, the next one fills up, so under load batches grow by themselves. The
embedder runs on one worker thread, behind a lock it shares with ingest jobs (``LockedEmbedder``),
because ONNX Runtime / OpenVINO sessions are used from one thread at a time here.

>>> import asyncio
>>> from concurrent.futures import ThreadPoolExecutor
>>> from ponder.embed.fake import HashEmbedder
>>> emb = HashEmbedder(dim=8)
>>> b = EmbedBatcher(LockedEmbedder(emb), ThreadPoolExecutor(1), wait_ms=5)
>>> async def three():
...     return await asyncio.gather(b.embed(["a"]), b.embed(["b", "c"]), b.embed(["d"]))
>>> [v.shape for v in asyncio.run(three())], emb.calls
([(1, 8), (2, 8), (1, 8)], 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

import numpy as np

from ponder.embed.base import Embedder


class LockedEmbedder(Embedder):
    """An embedder whose ``embed_batch`` runs under a lock (one caller at a time); everything
    else (``model_id``, ``dim``, tokenizer) is the wrapped embedder's."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.model_id = inner.model_id
        self.normalized = inner.normalized
        self.max_tokens = inner.max_tokens
        self.batch_size = inner.batch_size
        self.query_prefix = inner.query_prefix
        self.passage_prefix = inner.passage_prefix
        self.name = inner.name or inner.model_id

    @property  # type: ignore[override]
    def dim(self) -> int:
        return self.inner.dim

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self.lock:
            return np.asarray(self.inner.embed_batch(list(texts)), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        return self.inner.tokenize(text)

    def token_ids(self, text: str) -> list[int]:
        return self.inner.token_ids(text)


class EmbedBatcher:
    """Collects concurrent ``embed`` calls into ``embed_batch`` calls of up to ``max_batch``."""

    def __init__(
        self,
        embedder: Embedder,
        executor: Executor,
        *,
        wait_ms: float = 2.0,
        max_batch: int = 64,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.embedder = embedder
        self.executor = executor
        self.wait = wait_ms / 1000.0
        self.max_batch = max_batch
        self.on_batch = on_batch
        self._pending: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # sizes of the last batches (bounded), for tests and bench

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` (raw: no query or passage prefix is added)."""
        loop = asyncio.get_running_loop()
        if self._worker is None or self._worker.done():
            self._wakeup = asyncio.Event()
            self._worker = loop.create_task(self._run())
        fut: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((list(texts), fut))
        assert self._wakeup is not None
        self._wakeup.set()
        return await fut

    def _queued(self) -> int:
        return sum(len(t) for t, _ in self._pending)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            if self.wait > 0 and self._queued() < self.max_batch:
                await asyncio.sleep(self.wait)
            batch: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
            n = 0
            while self._pending and (not batch or n + len(self._pending[0][0]) <= self.max_batch):
                item = self._pending.pop(0)
                if item[1].cancelled():
                    continue
                batch.append(item)
                n += len(item[0])
            if not self._pending:
                self._wakeup.clear()
            if not batch:
                continue
            texts = [t for ts, _ in batch for t in ts]
            try:
                vecs = await loop.run_in_executor(self.executor, self.embedder.embed_batch, texts)
            except Exception as e:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                continue
            self.batches = [*self.batches[-999:], len(texts)]
            if self.on_batch:
                self.on_batch(len(texts))
            at = 0
            for ts, fut in batch:
                if not fut.done():
                    fut.set_result(vecs[at : at + len(ts)])
                at += len(ts)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
            self._worker = None


__all__ = ["EmbedBatcher", "LockedEmbedder"]
