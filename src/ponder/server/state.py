"""What one server holds: its models, the generation queue, the embed batcher, open
collections (each behind a readers-writer lock), ingest jobs, keys, limits and metrics.

Collections are opened once and kept; reads (query, get, ask) share a collection, writes
(add, update, delete) take it alone. Ingest jobs write through their own connection; a read
that finds the catalog moved on first catches the in-memory index up, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.config import load_settings
from ponder.embed import load_embedder
from ponder.embed.base import Embedder
from ponder.errors import ConfigError, ModelNotFoundError
from ponder.llm import load_generator
from ponder.llm.base import Generator
from ponder.ops.model import load_rag_model
from ponder.server.batching import EmbedBatcher, LockedEmbedder
from ponder.server.generation import GenerationQueue
from ponder.server.keys import KeyStore
from ponder.server.limits import Limits
from ponder.server.metrics import Metrics
from ponder.store.catalog import Catalog

if TYPE_CHECKING:
    from ponder.server.jobs import JobManager
    from ponder.store.collection import Collection


@dataclass(frozen=True)
class ServerConfig:
    """How to run: the home folder, model and embedder specs, limits.

    ``model`` and ``embedder`` are ``load_generator`` / ``load_embedder`` specs, or already
    built objects (tests pass fakes)."""

    home: str
    model: Any = None
    embedder: Any = None
    limits: Limits = field(default_factory=Limits)
    title: str = "Ponder"
    preload: bool = True
    mlflow_model: str | None = None  # models:/NAME@ALIAS: /v1/ask on its collection uses it


class RWLock:
    """Many readers or one writer (writers are not starved: a waiting writer blocks new
    readers)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class OpenCollection:
    """A collection kept open by the server, with its lock."""

    def __init__(self, col: Collection) -> None:
        self.col = col
        self.lock = RWLock()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Collection]:
        if self.col.catalog.version() != self.col.index_state.version:
            with self.lock.write():  # catch the index up alone (an ingest job wrote)
                self.col.index_state.get()
        with self.lock.read():
            yield self.col

    @contextlib.contextmanager
    def writing(self) -> Iterator[Collection]:
        with self.lock.write():
            yield self.col


class ServerState:
    """Everything the routes share. Models load lazily (``load_models`` at startup)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.home = str(Path(config.home).expanduser())
        self.limits = config.limits
        self.metrics = Metrics()
        self.keys = KeyStore(self.home)
        self.queue = GenerationQueue(
            config.limits.queue_size, on_depth=self.metrics.queue_depth.set
        )
        self.io = ThreadPoolExecutor(4, thread_name_prefix="ponder-io")
        self.embed_executor = ThreadPoolExecutor(1, thread_name_prefix="ponder-embed")
        self._generator: Generator | None = None
        self._embedder: LockedEmbedder | None = None
        self._batcher: EmbedBatcher | None = None
        self._collections: dict[str, OpenCollection] = {}
        self._col_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self.ready = False
        self.ready_detail = "loading models"
        self.started = int(time.time())
        self._jobs: JobManager | None = None
        self.rag_model: Any = None  # a ponder.ops RagService when serving a registered model
        if config.mlflow_model:
            self.rag_model = load_rag_model(config.mlflow_model)

    # ------------------------------------------------------------------ models
    @property
    def generator(self) -> Generator:
        with self._model_lock:
            if self._generator is None:
                spec = self.config.model
                if isinstance(spec, Generator):
                    self._generator = spec
                else:
                    self._generator = load_generator(spec or load_settings().model)
            return self._generator

    @property
    def embedder(self) -> LockedEmbedder:
        with self._model_lock:
            if self._embedder is None:
                spec = self.config.embedder
                if isinstance(spec, Embedder):
                    inner: Embedder = spec
                else:
                    name = spec or load_settings().embedder
                    inner = load_embedder(name)
                self._embedder = LockedEmbedder(inner)
            return self._embedder

    @property
    def batcher(self) -> EmbedBatcher:
        if self._batcher is None:
            self._batcher = EmbedBatcher(
                self.embedder, self.embed_executor, wait_ms=self.limits.embed_wait_ms,
                max_batch=self.limits.embed_max_batch,
                on_batch=self.metrics.embed_batch.observe,
            )
        return self._batcher

    @property
    def jobs(self) -> JobManager:
        if self._jobs is None:
            from ponder.server.jobs import JobManager

            self._jobs = JobManager(self)
        return self._jobs

    def load_models(self) -> None:
        """Load both models now (one tiny call each), then mark the server ready."""
        try:
            self.embedder.embed_batch(["warm up"])
            gen = self.generator
            gen.complete("Hi", max_new_tokens=1)
            self.ready = True
            self.ready_detail = ""
        except Exception as e:  # reported by /ready; requests then raise the real error
            self.ready_detail = f"{type(e).__name__}: {e}"

    def model_ids(self) -> dict[str, str]:
        """Served model names -> kind; a generator answers to its model id and its spec."""
        out = {self.generator.model_id: "generator"}
        spec = self.config.model
        if isinstance(spec, str) and spec:
            out.setdefault(spec, "generator")
        out.setdefault(self.embedder.model_id, "embedder")
        name = self.embedder.name
        if name:
            out.setdefault(name, "embedder")
        return out

    def check_model(self, name: str, kind: str) -> None:
        ids = self.model_ids()
        if ids.get(name) != kind:
            served = sorted(k for k, v in ids.items() if v == kind)
            raise ModelNotFoundError(
                f"model {name!r} is not served here: use one of {served} (GET /v1/models)"
            )

    # ------------------------------------------------------------------ collections
    def collection(self, name: str) -> OpenCollection:
        """The open collection ``name`` (opened on first use)."""
        from ponder.store.collection import Collection

        with self._col_lock:
            oc = self._collections.get(name)
            if oc is not None:
                return oc
            col = Collection.open(name, home=self.home, embedder=self._embedder_for(name))
            col.index_state.get()
            oc = self._collections[name] = OpenCollection(col)
            return oc

    def _embedder_for(self, name: str) -> Any:
        """The server's embedder when the collection was made with the same model; else the
        collection's own (``None``: let ``Collection.open`` resolve it)."""
        from ponder.store.collection import EXTERNAL, collections_root

        folder = collections_root(self.home) / name
        if not (folder / "catalog.sqlite").exists():
            return None
        try:
            cat = Catalog(folder / "catalog.sqlite", name=name)
            try:
                model_id = cat.get_setting("config")["model_id"]
            finally:
                cat.close()
        except Exception:
            return None
        if model_id == EXTERNAL:
            return False
        return self.embedder if model_id == self.embedder.model_id else None

    def create_collection(self, name: str, metric: str, index: str) -> Collection:
        from ponder.store.collection import Collection

        with self._col_lock:
            col = Collection.create(name, home=self.home, embedder=self.embedder,
                                    metric=metric, index=index)
            self._collections[name] = OpenCollection(col)
            return col

    def drop_collection(self, name: str) -> None:
        from ponder.store.collection import Collection

        if self._jobs is not None and self._jobs.running_for(name):
            raise ConfigError(
                f"collection {name!r} has an ingest job running: wait for it (GET /v1/jobs/ID)"
            )
        with self._col_lock:
            oc = self._collections.pop(name, None)
        if oc is not None:
            with oc.lock.write():
                oc.col.close()
        Collection.drop(name, home=self.home)

    def list_collections(self) -> list[str]:
        from ponder.store.collection import Collection

        return Collection.list(self.home)

    async def in_io(self, fn: Any, *args: Any) -> Any:
        """Run blocking work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self.io, fn, *args)

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown()
        with self._col_lock:
            for oc in self._collections.values():
                with contextlib.suppress(Exception), oc.lock.write():
                    oc.col.close()
            self._collections.clear()
        self.queue.shutdown()
        self.io.shutdown(wait=False, cancel_futures=True)
        self.embed_executor.shutdown(wait=False, cancel_futures=True)
        self.keys.close()


__all__ = ["OpenCollection", "RWLock", "ServerConfig", "ServerState"]
