"""Embedding-model migration without downtime: ``ponder collections migrate NAME --embedder NEW``.

::

    chunks without a shadow vector ──► NEW embedder (a batch) ──► shadow_embeddings (commit)
          ▲                                                                 │
          └──────────────────────── until none is left ◄───────────────────┘
    one transaction: shadow vectors become the live ones, old vectors dropped, config switched

- The new vectors go to ``shadow_embeddings`` beside the live ones, one committed batch at a
  time, without moving the catalog version: searches, in this process or any other, keep
  answering from the old vectors and the old index the whole time.
- A killed migration (Ctrl-C, ``kill -9``, a crash) loses at most the batch in flight; the
  same command resumes with the chunks that still lack a shadow vector.
- Chunks written meanwhile (an ingest running alongside) are picked up before the switch: the
  switch only happens in a transaction that finds every chunk re-embedded.
- The switch is one transaction: the live vectors are replaced by the shadow ones, the
  collection's model, embedder and dimension change, the old vectors are dropped. Open
  collections follow it on their next search (new embedder, index rebuilt from the new
  vectors); a write of old-model vectors after it is refused.

>>> import tempfile
>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.store.collection import Collection
>>> home = tempfile.mkdtemp()
>>> with Collection.create("notes", home=home, embedder=HashEmbedder(dim=32)) as c:
...     _ = c.add(ids=["a", "b"], texts=["cats purr", "stocks fell"])
>>> r = migrate_collection("notes", "hash", home=home, batch_size=1)
>>> (r.from_model, r.to_model, r.embedded, r.switched)
('hash-32', 'hash-64', 2, True)
>>> with Collection.open("notes", home=home) as c:
...     c.model_id, c.dim, c.search("cats", k=1)[0].chunk.id
('hash-64', 64, 'a')
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed import load_embedder
from ponder.embed.base import Embedder
from ponder.errors import CollectionError, CollectionNotFoundError, ConfigError
from ponder.store.catalog import Catalog
from ponder.store.index_state import IndexSpec, IndexState
from ponder.store.layout import EXTERNAL, check_name, collections_root

BATCH = 256


class MigrationProgress:
    """Callbacks a migration reports to (the CLI draws a progress bar from them)."""

    def started(self, done: int, total: int) -> None: ...

    def batch_done(self, n: int, done: int, total: int) -> None: ...


@dataclass
class MigrationStatus:
    """Where an unfinished migration stands (``done`` of ``total`` chunks re-embedded)."""

    collection: str
    from_model: str
    to_model: str
    embedder: str
    done: int
    total: int
    started_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MigrationReport:
    """The outcome of ``migrate_collection``."""

    collection: str
    from_model: str
    to_model: str
    embedder: str
    dim: int
    chunks: int
    embedded: int  # by this run
    resumed_from: int  # chunks already re-embedded by an earlier, interrupted run
    switched: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open_catalog(name: str, home: str | Path | None) -> Catalog:
    path = collections_root(home) / check_name(name) / "catalog.sqlite"
    if not path.exists():
        raise CollectionNotFoundError(
            f"no collection {name!r} in {path.parent.parent}; `ponder collections list` shows them"
        )
    return Catalog(path, name=name)


def migration_status(name: str, *, home: str | Path | None = None) -> MigrationStatus | None:
    """The unfinished migration of collection ``name``, or ``None``."""
    catalog = _open_catalog(name, home)
    try:
        state = catalog.get_setting("migration")
        if not state:
            return None
        return MigrationStatus(
            collection=name,
            from_model=catalog.get_setting("config")["model_id"],
            to_model=state["model_id"],
            embedder=state["embedder"],
            done=catalog.count_shadow(),
            total=catalog.count_chunks(),
            started_at=state["started_at"],
        )
    finally:
        catalog.close()


def abort_migration(name: str, *, home: str | Path | None = None) -> bool:
    """Drop an unfinished migration's shadow vectors; ``False`` if there was none."""
    catalog = _open_catalog(name, home)
    try:
        if not catalog.get_setting("migration"):
            return False
        catalog.drop_shadow()
        return True
    finally:
        catalog.close()


def _target(spec: str | Embedder) -> tuple[Embedder, str]:
    """The embedder, and the name the collection will record to load it again by."""
    if isinstance(spec, Embedder):
        return spec, spec.name
    emb = load_embedder(spec)
    return emb, emb.name or spec  # a folder's name is its absolute path


def migrate_collection(
    name: str,
    embedder: str | Embedder,
    *,
    home: str | Path | None = None,
    batch_size: int = BATCH,
    progress: MigrationProgress | None = None,
) -> MigrationReport:
    """Re-embed collection ``name`` with ``embedder`` (a registry name such as ``minilm`` or a
    fine-tuned folder, see ``ponder.embed.load_embedder``) and switch to it; resumes an
    interrupted migration to the same model. See the module docstring."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    progress = progress or MigrationProgress()
    started = time.perf_counter()
    emb, emb_name = _target(embedder)
    catalog = _open_catalog(name, home)
    try:
        cfg = catalog.get_setting("config")
        _check_target(catalog, cfg, emb, emb_name)
        if not emb_name:
            raise ConfigError(
                f"embedder {type(emb).__name__} ({emb.model_id}) has no registry name, so the "
                "collection could not be opened with it again; give a name (`hash`, `minilm`) "
                "or a fine-tuned folder"
            )
        state = catalog.get_setting("migration")
        if not state:
            state = {"model_id": emb.model_id, "embedder": emb_name, "started_at": time.time()}
            catalog.set_settings({"migration": state}, bump=False)  # no reader depends on it
        resumed = done = catalog.count_shadow()
        progress.started(done, catalog.count_chunks())
        dim, embedded = emb.dim, 0
        while True:
            rows = catalog.chunks_without_shadow(batch_size)
            if not rows:
                changes = {"model_id": emb.model_id, "embedder": emb_name, "dim": dim}
                new_cfg = catalog.switch_to_shadow(emb.model_id, changes)
                if new_cfg is not None:
                    break
                continue  # chunks were written meanwhile: embed them too
            vectors = _embed(emb, [text for _, text in rows])
            dim, embedded = vectors.shape[1], embedded + len(rows)
            if not catalog.write_shadow([pk for pk, _ in rows], vectors, emb.model_id):
                raise CollectionError(
                    f"the migration of {name!r} was aborted or finished by another process "
                    f"while this one ran; `ponder collections migrate {name} --status` tells "
                    "which"
                )
            progress.batch_done(len(rows), catalog.count_shadow(), catalog.count_chunks())
        # build the new index now rather than in the next process that opens the collection
        spec = IndexSpec(
            new_cfg["index"], new_cfg["metric"], new_cfg["dim"], new_cfg["params"], emb.model_id
        )
        index = IndexState(catalog.path.parent, catalog, spec)
        index.rebuild()
        index.save()
        return MigrationReport(
            collection=name,
            from_model=cfg["model_id"],
            to_model=emb.model_id,
            embedder=emb_name,
            dim=new_cfg["dim"],
            chunks=catalog.count_chunks(),
            embedded=embedded,
            resumed_from=resumed,
            switched=True,
            seconds=time.perf_counter() - started,
        )
    finally:
        catalog.close()


def _check_target(catalog: Catalog, cfg: dict[str, Any], emb: Embedder, emb_name: str) -> None:
    name = catalog.name
    if cfg["model_id"] == EXTERNAL:
        raise ConfigError(
            f"collection {name!r} holds precomputed embeddings (no embedder), so Ponder cannot "
            "re-embed it; add the new vectors to a new collection instead"
        )
    if cfg["model_id"] == emb.model_id:
        raise ConfigError(
            f"collection {name!r} is already embedded with {emb.model_id!r}; nothing to "
            f"migrate (to use the {emb_name!r} backend, open it with --embedder {emb_name})"
        )
    state = catalog.get_setting("migration")
    if state and state["model_id"] != emb.model_id:
        raise CollectionError(
            f"collection {name!r} is being migrated to {state['model_id']!r} "
            f"(--embedder {state['embedder']}); resume that with `ponder collections migrate "
            f"{name} --embedder {state['embedder']}`, or drop it with `--abort`"
        )


def _embed(emb: Embedder, texts: list[str]) -> np.ndarray:
    vectors = np.asarray(emb.embed(texts), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(texts) or not np.isfinite(vectors).all():
        raise CollectionError(
            f"embedder {emb.model_id!r} returned {vectors.shape} for {len(texts)} texts, or "
            "non-finite values; nothing of this batch was written: fix the embedder and resume"
        )
    return vectors
