"""Persistent collections in the Chroma style: create/open, add, ingest, search, get, update,
delete, count.

>>> import tempfile
>>> from ponder.embed.fake import HashEmbedder
>>> home = tempfile.mkdtemp()
>>> c = Collection.create("notes", home=home, embedder=HashEmbedder(dim=32))
>>> c.add(ids=["a", "b"], texts=["cats purr softly", "stocks fell sharply"],
...       metadatas=[{"topic": "pets"}, {"topic": "markets"}])
['a', 'b']
>>> [h.chunk.id for h in c.search("a purring cat", k=1)]
['a']
>>> c.count(), [h.chunk.id for h in c.search("cat", where={"topic": "markets"})]
(2, ['b'])
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.embed.base import Embedder
from ponder.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
    InputError,
)
from ponder.ingest.pipeline import IngestProgress, ingest_paths, ingest_pydoc
from ponder.store.catalog import Catalog, text_hash
from ponder.store.filters import matches, parse_where
from ponder.store.index_state import IndexSpec, IndexState
from ponder.store.indexes import check_metric, index_class, make_index
from ponder.store.layout import EXTERNAL, check_name, collections_root, resolve_embedder
from ponder.store.planner import Hits, check_strategy
from ponder.store.search import VectorSearch
from ponder.store.writes import CollectionWrites
from ponder.types import Chunk, Hit, IngestReport

if TYPE_CHECKING:
    from ponder.store.planner import Planner

__all__ = ["EXTERNAL", "Collection", "collections_root", "text_hash"]


def _spec(cfg: dict[str, Any]) -> IndexSpec:
    """The index settings recorded in a collection's config."""
    return IndexSpec(cfg["index"], cfg["metric"], cfg["dim"], cfg["params"], cfg["model_id"])


class Collection(CollectionWrites):
    """A named, persistent set of chunks with their embeddings, metadata and indexes.

    Use ``Collection.create``/``open``/``get_or_create`` rather than the constructor.
    """

    def __init__(self, name: str, folder: Path, catalog: Catalog, embedder: Embedder | None):
        self.name = name
        self.folder = folder
        self.catalog = catalog
        self._embedder = embedder
        cfg = catalog.get_setting("config")
        self.model_id: str = cfg["model_id"]
        self.dim: int = cfg["dim"]
        self.metric: str = cfg["metric"]
        self.index_state = IndexState(folder, catalog, _spec(cfg))
        self._seen_version = catalog.version()
        self._changes = None  # the writes of the batch() in progress

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def create(
        cls,
        name: str,
        *,
        home: str | Path | None = None,
        embedder: Embedder | str | bool | None = None,
        metric: str = "cosine",
        index: str = "flat",
        dim: int | None = None,
        exist_ok: bool = False,
        **index_params: Any,
    ) -> Collection:
        """Create a collection. ``embedder``: an ``Embedder``, a backend name, ``None`` for the
        default, or ``False`` for a collection fed only precomputed embeddings (give ``dim``)."""
        check_name(name)
        folder = collections_root(home) / name
        if (folder / "catalog.sqlite").exists():
            if exist_ok:
                return cls.open(name, home=home, embedder=embedder)
            raise CollectionExistsError(
                f"collection {name!r} already exists in {folder.parent}; open it with "
                "Collection.open, or drop it first"
            )
        check_metric(metric)
        index_class(index)  # unknown type: fail before loading any model
        emb = resolve_embedder(embedder)
        # validate the index settings (metric pair, parameters) before writing anything
        index_class(index)((emb.dim if emb else dim) or 4, metric, **index_params)
        if emb is None and not dim:
            raise ConfigError("a collection without an embedder needs dim=N (the vector length)")
        if emb is not None and dim and dim != emb.dim:  # before anything is written
            raise EmbeddingMismatchError(
                f"dim={dim} but embedder {emb.model_id} makes {emb.dim}-dimensional vectors: "
                f"pass dim={emb.dim} or leave dim out"
            )
        folder.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(folder / "catalog.sqlite", name=name)
        config = {
            "model_id": emb.model_id if emb else EXTERNAL,
            "embedder": (emb.name or None) if emb else None,
            "dim": emb.dim if emb else int(dim or 0),
            "metric": metric,
            "index": index,
            "params": index_params,
        }
        catalog.set_settings({"config": config, "name": name})
        return cls(name, folder, catalog, emb)

    @classmethod
    def open(
        cls,
        name: str,
        *,
        home: str | Path | None = None,
        embedder: Embedder | str | bool | None = None,
    ) -> Collection:
        """Open an existing collection; its embedder is the one it was made with unless given
        (a different model is refused: its vectors would not be comparable)."""
        check_name(name)
        folder = collections_root(home) / name
        if not (folder / "catalog.sqlite").exists():
            raise CollectionNotFoundError(
                f"no collection {name!r} in {folder.parent}; create it with "
                f"`ponder ingest PATH --collection {name}` or Collection.create({name!r})"
            )
        catalog = Catalog(folder / "catalog.sqlite", name=name)
        cfg = catalog.get_setting("config")
        if cfg["model_id"] == EXTERNAL:
            emb = None
        elif isinstance(embedder, Embedder):
            emb = embedder
        else:
            emb = resolve_embedder(embedder if embedder is not None else cfg.get("embedder"))
        if emb is not None and emb.model_id != cfg["model_id"]:
            catalog.close()
            raise EmbeddingMismatchError(
                f"collection {name!r} was embedded with {cfg['model_id']!r}, not "
                f"{emb.model_id!r}; open it with that model, or re-ingest into a new collection"
            )
        return cls(name, folder, catalog, emb)

    @classmethod
    def get_or_create(cls, name: str, **kwargs: Any) -> Collection:
        return cls.create(name, exist_ok=True, **kwargs)

    @staticmethod
    def list(home: str | Path | None = None) -> list[str]:
        root = collections_root(home)
        if not root.exists():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "catalog.sqlite").exists())

    @staticmethod
    def drop(name: str, home: str | Path | None = None) -> None:
        folder = collections_root(home) / check_name(name)
        if not (folder / "catalog.sqlite").exists():
            raise CollectionNotFoundError(f"no collection {name!r} in {folder.parent}")
        shutil.rmtree(folder)

    def close(self) -> None:
        """Save the index (if changed) and close the catalog; closing twice is harmless."""
        if self.catalog.closed:
            return
        self.index_state.save()
        self.catalog.close()

    def __enter__(self) -> Collection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Collection({self.name!r}, model={self.model_id!r}, metric={self.metric!r})"

    @property
    def embedder(self) -> Embedder:
        self._follow_migration()
        if self._embedder is None:
            raise ConfigError(
                f"collection {self.name!r} has no embedder (it takes precomputed embeddings); "
                "pass embeddings=/embedding= instead of texts/query"
            )
        return self._embedder

    def _follow_migration(self) -> None:
        """After another process migrated this collection (``ponder.store.migrate``), take
        its new embedding model, dimension and index; one version query when nothing moved."""
        version = self.catalog.version()
        if version == self._seen_version:
            return
        self._seen_version = version
        cfg = self.catalog.get_setting("config")
        if cfg["model_id"] != self.model_id:
            self.model_id, self.dim = cfg["model_id"], cfg["dim"]
            self._embedder = resolve_embedder(cfg.get("embedder") or False)
            self.index_state = IndexState(self.folder, self.catalog, _spec(cfg))

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        text_field: str | None = None,
        sync: bool = False,
        progress: IngestProgress | None = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively): .txt .md .html .pdf .csv .jsonl.
        See ``ponder.ingest.pipeline`` for what is skipped, replaced and reported."""
        return ingest_paths(
            self,
            paths,
            include=include,
            exclude=exclude,
            text_field=text_field,
            sync=sync,
            progress=progress,
        )

    def ingest_pydoc(
        self, modules: Sequence[str] | None = None, *, progress: IngestProgress | None = None
    ) -> IngestReport:
        """Ingest the Python standard library's documentation (``pydoc:MODULE`` sources)."""
        return ingest_pydoc(self, modules, progress=progress)

    # ------------------------------------------------------------------ reads
    def count(self) -> int:
        return self.catalog.count_chunks()

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | str | None = None,
        limit: int | None = None,
    ) -> list[Chunk]:
        """Chunks by id (in the order given; unknown ids are left out) and/or filter."""
        flt = parse_where(where)
        if ids is not None:
            pks = self.catalog.pks_for_ids(list(ids))
            chunks = self.catalog.chunks_by_pk(list(pks.values()))
            out = [chunks[pks[i]] for i in ids if i in pks]
            if flt:
                out = [c for c in out if matches(c.metadata, flt)]
        else:
            pks_arr = self.catalog.pks_where(flt)
            if limit is not None:
                pks_arr = pks_arr[:limit]
            by_pk = self.catalog.chunks_by_pk(pks_arr.tolist())
            out = [by_pk[int(p)] for p in pks_arr]
        return out[:limit] if limit is not None else out

    def search(
        self,
        query: str | None = None,
        *,
        embedding: Sequence[float] | np.ndarray | None = None,
        k: int = 10,
        where: dict[str, Any] | str | None = None,
        strategy: str = "auto",
        explain: bool = False,
    ) -> Hits:
        """The ``k`` chunks nearest to ``query`` (or to a precomputed ``embedding``), optionally
        restricted by a ``where`` filter; ``k`` rows come back whenever ``k`` rows match.

        Filtered searches are planned (``ponder.store.planner``): ``strategy="auto"`` picks
        pre-filtering (exact over the matching chunks), in-search filtering (FAISS filters
        while it searches, with its effort raised) or post-filtering (over-fetch and widen)
        from the filter's estimated selectivity; ``"pre"``, ``"in"``, ``"post"`` force one.
        Returns ``Hits``, a ``list[Hit]``; with ``explain=True`` its ``.plan`` tells the
        strategy and why, estimated and actual matches, candidates scanned, widenings and
        the time per stage (``print(hits.plan)``).
        """
        started = time.perf_counter()
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        check_strategy(strategy)
        if (query is None) == (embedding is None):
            raise InputError("search() needs exactly one of query= or embedding=")
        flt = parse_where(where) if where else None
        if embedding is not None:
            q = self._check_vectors(np.asarray(embedding, dtype=np.float32).reshape(1, -1), 1)
        else:
            if not str(query).strip():
                raise InputError("search(): the query is empty")
            q = self.embedder.embed_query(str(query)).reshape(1, -1)
        embedded = time.perf_counter()
        # the embedder / vector check has just read the catalog version (_follow_migration)
        index = self.index_state.get(self._seen_version)
        loaded = time.perf_counter()
        timings = {"embed": (embedded - started) * 1000, "index ready": (loaded - embedded) * 1000}
        return self._searcher().run(
            index, self.index_state.version, q, k, flt, strategy,
            explain=explain, timings=timings, started=started,
        )  # fmt: skip

    def _searcher(self) -> VectorSearch:
        """This collection's search execution (planner, metadata columns, row cache)."""
        searcher = self.__dict__.get("_search")
        if searcher is None:
            searcher = self.__dict__["_search"] = VectorSearch(self.catalog)
        return searcher

    def _vector_planner(self) -> Planner:
        """This collection's query planner (and its in-memory metadata columns)."""
        return self._searcher().planner

    def build_index(
        self, index: str | None = None, *, metric: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """(Re)build the vector index from the catalog, optionally with another type, metric
        or parameters (kept for the collection); types that need it train on the collection's
        own vectors. Same type: the parameters given are merged into the current ones (give
        ``None`` to reset one to automatic). Returns a summary: type, metric, parameters,
        vectors, seconds, memory and any notice (e.g. too few vectors to train).

        >>> import tempfile
        >>> c = Collection.create("b", home=tempfile.mkdtemp(), embedder=False, dim=4)
        >>> _ = c.add(ids=["a", "b"], embeddings=[[1, 0, 0, 0], [0, 1, 0, 0]])
        >>> c.build_index("hnsw", m=16)["params"]
        {'m': 16}
        >>> c.build_index(ef_search=128)["params"]
        {'m': 16, 'ef_search': 128}
        >>> c.search(embedding=[1, 0, 0, 0], k=1)[0].chunk.id
        'a'
        """
        old = self.index_state.spec
        kind = index or old.kind
        metric = check_metric(metric or self.metric)
        merged = {**old.params, **params} if kind == old.kind else dict(params)
        merged = {key: v for key, v in merged.items() if v is not None}
        make_index(kind, self.dim, metric, **merged)  # validate before changing anything
        started = time.perf_counter()
        cfg = self.catalog.get_setting("config")
        cfg.update(index=kind, metric=metric, params=merged)
        self.catalog.set_settings({"config": cfg})
        self.metric = metric
        self.index_state = IndexState(
            self.folder, self.catalog, IndexSpec(kind, metric, self.dim, merged, self.model_id)
        )
        self.index_state.rebuild()
        self.index_state.save()
        built = self.index_state.index
        assert built is not None
        return {
            "index": kind,
            "metric": metric,
            "params": merged,
            "vectors": len(built),
            "seconds": round(time.perf_counter() - started, 3),
            "memory_bytes": built.memory_bytes(),
            "settings": built.describe(),
            "notice": built.fallback_reason,
        }

    def keyword_search(
        self, query: str, *, k: int = 10, where: dict[str, Any] | str | None = None
    ) -> list[Hit]:
        """BM25 keyword search (SQLite FTS5, kept in the same transactions as the chunks)."""
        if not isinstance(k, int) or k <= 0:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        found = self.catalog.bm25(query, k, parse_where(where))
        chunks = self.catalog.chunks_by_pk([p for p, _ in found])
        return [
            Hit(chunk=chunks[p], score=s, rank=r, found_by="bm25")
            for r, (p, s) in enumerate(found, start=1)
        ]

    def info(self) -> dict[str, Any]:
        size = sum(f.stat().st_size for f in self.folder.iterdir() if f.is_file())
        spec = self.index_state.spec
        return {
            "name": self.name,
            "path": str(self.folder),
            "documents": self.catalog.count_documents(),
            "chunks": self.catalog.count_chunks(),
            "model": self.model_id,
            "dimension": self.dim,
            "metric": self.metric,
            "index": spec.kind,
            "index_params": spec.params,
            "size_bytes": size,
            "catalog_version": self.catalog.version(),
            "migration": self.catalog.get_setting("migration"),
        }
