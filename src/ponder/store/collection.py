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

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.config import load_settings
from ponder.embed.base import Embedder
from ponder.errors import (
    CollectionExistsError,
    CollectionNotFoundError,
    ConfigError,
    EmbeddingMismatchError,
    InputError,
)
from ponder.store.catalog import Catalog, ChunkRow
from ponder.store.filters import parse_where
from ponder.store.index_state import IndexSpec, IndexState
from ponder.store.indexes import check_metric, index_class
from ponder.types import Chunk, Hit, IngestReport

if TYPE_CHECKING:
    from ponder.store.ingest import IngestProgress
    from ponder.store.planner import Hits, Planner

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
EXTERNAL = "external"  # model id of a collection fed only precomputed embeddings


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def collections_root(home: str | Path | None = None) -> Path:
    return (Path(home).expanduser() if home else load_settings().home_path) / "collections"


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _resolve_embedder(embedder: Embedder | str | bool | None) -> Embedder | None:
    """An Embedder instance, a backend name, None (the default backend) or False (none)."""
    if embedder is False or embedder == "none":
        return None
    if isinstance(embedder, Embedder):
        return embedder
    from ponder.embed import load_embedder

    name = embedder if isinstance(embedder, str) else load_settings().embedder
    emb = load_embedder(name)
    if not getattr(emb, "name", None):
        emb.name = name  # type: ignore[attr-defined]
    return emb


class Collection:
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
        self.index_state = IndexState(
            folder, catalog, IndexSpec(cfg["index"], cfg["metric"], cfg["dim"], cfg["params"])
        )

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
        _check_name(name)
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
        emb = _resolve_embedder(embedder)
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
            "embedder": getattr(emb, "name", None) if emb else None,
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
        _check_name(name)
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
            emb = _resolve_embedder(embedder if embedder is not None else cfg.get("embedder"))
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
        folder = collections_root(home) / _check_name(name)
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
        if self._embedder is None:
            raise ConfigError(
                f"collection {self.name!r} has no embedder (it takes precomputed embeddings); "
                "pass embeddings=/embedding= instead of texts/query"
            )
        return self._embedder

    # ------------------------------------------------------------------ writes
    def _check_vectors(self, vectors: np.ndarray, n: int) -> np.ndarray:
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[0] != n or v.shape[1] != self.dim:
            raise EmbeddingMismatchError(
                f"embeddings have shape {tuple(v.shape)}, expected ({n}, {self.dim}) for "
                f"collection {self.name!r} ({self.model_id}); nothing was written"
            )
        if not np.isfinite(v).all():
            raise EmbeddingMismatchError("embeddings contain NaN or infinity; nothing was written")
        return v

    def write_chunks(
        self,
        doc_id: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        *,
        source: str | None = None,
        file_hash: str | None = None,
        content_hash: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Replace document ``doc_id`` with ``chunks`` in one transaction (the ingest primitive)."""
        vectors = self._check_vectors(vectors, len(chunks))
        rows = [ChunkRow(c, text_hash(c.text), vectors[i]) for i, c in enumerate(chunks)]
        chash = content_hash or text_hash("".join(c.text for c in chunks))
        self.index_state.get()  # make sure the index is loaded before mirroring writes
        before = self.index_state.version
        with self.catalog.write():
            removed, added, vecs = self.catalog.write_document(
                doc_id=doc_id,
                source=source,
                file_hash=file_hash,
                content_hash=chash,
                metadata=metadata or {},
                chunks=rows,
                model=self.model_id,
            )
        self.index_state.apply(before, removed, added, vecs)

    def remove_documents(self, doc_ids: Sequence[str]) -> int:
        self.index_state.get()
        before = self.index_state.version
        with self.catalog.write():
            removed = self.catalog.delete_documents(doc_ids)
        self.index_state.apply(before, removed, [], np.zeros((0, self.dim), np.float32))
        return len(removed)

    def add(
        self,
        ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        embeddings: Sequence[Sequence[float]] | np.ndarray | None = None,
    ) -> list[str]:
        """Add records (each one chunk of its own document); existing ids are replaced.

        ``embeddings`` may be given precomputed, then ``texts`` may be omitted. All records are
        written in one transaction: on any error nothing is written. Returns the ids.
        """
        given = ids if ids is not None else texts if texts is not None else embeddings
        n = len(given) if given is not None else 0
        if n == 0:
            raise InputError("add() needs at least one record: give texts= or embeddings=")
        if texts is None and embeddings is None:
            raise InputError("add() needs texts= or embeddings=")
        if ids is None and texts is None:
            raise InputError("add(): embeddings without texts need ids=[...] (one per vector)")
        ids = list(ids) if ids is not None else [text_hash(t) for t in (texts or [])]
        for name, seq in (("texts", texts), ("metadatas", metadatas), ("embeddings", embeddings)):
            if seq is not None and len(seq) != n:
                raise InputError(f"add(): {len(seq)} {name} for {n} ids; give one per id")
        if len(set(ids)) != n:
            raise InputError("add(): ids must be unique within one call")
        texts = list(texts) if texts is not None else [""] * n
        metas = [dict(m or {}) for m in (metadatas or [None] * n)]
        if embeddings is None:
            if any(not t.strip() for t in texts):
                raise InputError("add(): empty text; every record needs text to embed")
            vectors = self.embedder.embed(texts)
        else:
            vectors = np.asarray(embeddings, dtype=np.float32)
        vectors = self._check_vectors(vectors, n)
        self.index_state.get()
        before = self.index_state.version
        removed_all: list[int] = []
        added_all: list[int] = []
        with self.catalog.write():
            for i, cid in enumerate(ids):
                chunk = Chunk(
                    id=cid, doc_id=cid, text=texts[i], end=len(texts[i]), metadata=metas[i]
                )
                removed, added, _ = self.catalog.write_document(
                    doc_id=cid,
                    source=None,
                    file_hash=None,
                    content_hash=text_hash(texts[i] + json.dumps(metas[i], sort_keys=True)),
                    metadata=metas[i],
                    chunks=[ChunkRow(chunk, text_hash(texts[i]), vectors[i])],
                    model=self.model_id,
                )
                removed_all += removed
                added_all += added
        self.index_state.apply(before, removed_all, added_all, vectors)
        return ids

    def update(
        self,
        ids: Sequence[str],
        metadatas: Sequence[dict[str, Any]] | None = None,
        *,
        merge: bool = False,
    ) -> None:
        """Replace (or with ``merge=True`` merge into) the metadata of chunks by id."""
        if metadatas is None or len(metadatas) != len(ids):
            raise InputError("update(): give one metadata dict per id")
        pks = self.catalog.pks_for_ids(ids)
        missing = [i for i in ids if i not in pks]
        if missing:
            raise InputError(f"update(): unknown ids {missing[:5]}; nothing was changed")
        current = self.catalog.chunks_by_pk(list(pks.values())) if merge else {}
        with self.catalog.write():
            for cid, meta in zip(ids, metadatas, strict=True):
                pk = pks[cid]
                new = {**current[pk].metadata, **meta} if merge else dict(meta)
                self.catalog.update_chunk_metadata(pk, new)

    def delete(
        self, ids: Sequence[str] | None = None, where: dict[str, Any] | str | None = None
    ) -> int:
        """Delete chunks by id and/or filter (both given: the chunks matching both). Returns
        how many were deleted. ``delete()`` with neither is refused (use ``drop``)."""
        flt = parse_where(where)
        if ids is None and flt is None:
            raise InputError("delete() needs ids= or where=; to empty a collection, drop it")
        pks = set(self.catalog.pks_where(flt).tolist()) if flt else None
        if ids is not None:
            by_id = set(self.catalog.pks_for_ids(list(ids)).values())
            pks = by_id if pks is None else pks & by_id
        assert pks is not None
        if not pks:
            return 0
        self.index_state.get()
        before = self.index_state.version
        with self.catalog.write():
            self.catalog.delete_chunks(sorted(pks))
        self.index_state.apply(before, sorted(pks), [], np.zeros((0, self.dim), np.float32))
        return len(pks)

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
        See ``ponder.store.ingest`` for what is skipped, replaced and reported."""
        from ponder.store.ingest import ingest_paths

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
        from ponder.store.ingest import ingest_pydoc

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
                from ponder.store.filters import matches

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
        import time

        from ponder.store.planner import Hits, check_strategy

        started = time.perf_counter()
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        check_strategy(strategy)
        if (query is None) == (embedding is None):
            raise InputError("search() needs exactly one of query= or embedding=")
        flt = parse_where(where)
        if embedding is not None:
            q = self._check_vectors(np.asarray(embedding, dtype=np.float32).reshape(1, -1), 1)
        else:
            if not str(query).strip():
                raise InputError("search(): the query is empty")
            q = self.embedder.embed_query(str(query)).reshape(1, -1)
        embedded = time.perf_counter()
        index = self.index_state.get()
        loaded = time.perf_counter()
        scores, pks, plan = self._vector_planner().search(
            index, q, k, flt, strategy, explain=explain
        )
        found = [(float(s), int(p)) for s, p in zip(scores, pks, strict=True) if p >= 0]
        fetch_start = time.perf_counter()
        chunks = self.catalog.chunks_by_pk([p for _, p in found])
        distance = self.metric in ("l2", "l1")
        hits = Hits(
            Hit(
                chunk=chunks[p],
                score=s,
                rank=r,
                found_by="dense",
                distance=-s if distance else None,
            )
            for r, (s, p) in enumerate(((s, p) for s, p in found if p in chunks), start=1)
        )
        if explain and plan is not None:
            done = time.perf_counter()
            plan.timings_ms = {
                "embed": (embedded - started) * 1000,
                "index ready": (loaded - embedded) * 1000,
                **plan.timings_ms,
                "fetch rows": (done - fetch_start) * 1000,
                "total": (done - started) * 1000,
            }
            hits.plan = plan
        return hits

    def _vector_planner(self) -> Planner:
        """This collection's query planner (and its in-memory metadata columns)."""
        planner = self.__dict__.get("_planner")
        if planner is None:
            from ponder.store.metadata_columns import MetadataColumns
            from ponder.store.planner import Planner

            planner = self.__dict__["_planner"] = Planner(MetadataColumns(self.catalog))
        return planner

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
        import time

        from ponder.store.indexes import make_index

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
            self.folder, self.catalog, IndexSpec(kind, metric, self.dim, merged)
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
        }
