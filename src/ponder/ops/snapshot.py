"""A consistent copy of a collection: what a logged model and a Spark job answer from.

The catalog is copied with SQLite's online backup API (a consistent copy even while another
process writes: readers never block), then the derived index is brought in step with that
copy and saved beside it, so the snapshot opens without a rebuild. The snapshot is a
Ponder home of its own (``FOLDER/collections/NAME/``), opened with ``Collection.open(NAME,
home=FOLDER)``; ``snapshot.json`` records the catalog version it holds.

>>> import tempfile
>>> from ponder.embed.fake import HashEmbedder
>>> from ponder.store.collection import Collection
>>> home = tempfile.mkdtemp()
>>> with Collection.create("kb", home=home, embedder=HashEmbedder(dim=16)) as c:
...     _ = c.add(ids=["a"], texts=["cats purr"])
>>> snap = snapshot_collection("kb", tempfile.mkdtemp(), home=home)
>>> snap.name, snap.catalog_version, snap.chunks  # created, then one add: version 2
('kb', 2, 1)
>>> with open_snapshot(snap.folder) as col:
...     col.get(["a"])[0].text
'cats purr'
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ponder.embed.fake import HashEmbedder
from ponder.errors import CollectionNotFoundError, InputError

MANIFEST = "snapshot.json"


@dataclass(frozen=True)
class Snapshot:
    """Where a snapshot lives and what it holds."""

    folder: str
    name: str
    catalog_version: int
    model_id: str
    embedder: str | None
    documents: int
    chunks: int
    index: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _collection_folder(home: Path, name: str) -> Path:
    return home / "collections" / name


def snapshot_collection(
    name: str, dest: str | Path, *, home: str | Path | None = None
) -> Snapshot:
    """Copy collection ``name`` (from ``home``) into ``dest``; return the ``Snapshot``."""
    from ponder.store.collection import Collection, collections_root

    src_folder = collections_root(home) / name
    if not (src_folder / "catalog.sqlite").exists():
        raise CollectionNotFoundError(
            f"no collection {name!r} in {src_folder.parent}; create it with "
            f"`ponder ingest PATH --collection {name}` before logging a model of it"
        )
    dest = Path(dest)
    target = _collection_folder(dest, name)
    if target.exists() and any(target.iterdir()):
        raise InputError(f"{target} is not empty: snapshot into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{src_folder / 'catalog.sqlite'}?mode=ro", uri=True)
    copy = sqlite3.connect(str(target / "catalog.sqlite"))
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    # the derived index, in step with the copied catalog (caught up or rebuilt, then saved);
    # the live index files are copied first so that a current one is reused, not rebuilt
    for fname in ("index.faiss", "index.json"):
        live = src_folder / fname
        if live.is_file():
            (target / fname).write_bytes(live.read_bytes())
    with Collection.open(name, home=dest, embedder=False) as col:
        col.index_state.get()
        col.index_state.save()
        info = col.info()
        embedder = col.catalog.get_setting("config").get("embedder")
    for leftover in target.glob("catalog.sqlite-*"):  # WAL files of the checkpointed copy
        leftover.unlink(missing_ok=True)
    snap = Snapshot(
        folder=str(dest.resolve()),
        name=name,
        catalog_version=int(info["catalog_version"]),
        model_id=str(info["model"]),
        embedder=embedder,
        documents=int(info["documents"]),
        chunks=int(info["chunks"]),
        index=str(info["index"]),
    )
    (dest / MANIFEST).write_text(json.dumps(snap.to_dict(), indent=2) + "\n", encoding="utf-8")
    return snap


def read_snapshot(folder: str | Path) -> Snapshot:
    """The ``Snapshot`` recorded in ``folder`` (an ``InputError`` if it is not one)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{folder} is not a collection snapshot (no {MANIFEST}); make one with "
            "ponder.ops.snapshot.snapshot_collection"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    data["folder"] = str(Path(folder).resolve())
    return Snapshot(**data)


def open_snapshot(folder: str | Path, *, embedder: Any = None) -> Any:
    """Open the snapshot's collection, after checking that its catalog is still the version
    recorded when it was taken (a changed snapshot is refused: its answers would not be the
    ones its lineage names)."""
    from ponder.store.collection import Collection

    snap = read_snapshot(folder)
    if embedder is None:
        embedder = embedder_for(snap)
    col = Collection.open(snap.name, home=folder, embedder=embedder)
    version = col.catalog.version()
    if version != snap.catalog_version:
        col.close()
        raise InputError(
            f"the snapshot of collection {snap.name!r} in {folder} changed since it was taken "
            f"(catalog version {version}, recorded {snap.catalog_version}): snapshots are "
            "read-only; take a new one (ponder ops log-model) instead of writing into it"
        )
    return col


def embedder_for(snap: Snapshot) -> Any:
    """The embedder to open a snapshot with: the one the collection names, else the one its
    ``model_id`` identifies (a collection made with an ``Embedder`` instance names none).

    >>> embedder_for(Snapshot("/s", "kb", 1, "hash-32", None, 1, 1, "flat")).model_id
    'hash-32'
    """
    if snap.embedder:
        return None  # Collection.open loads the named one
    m = re.fullmatch(r"hash-(\d+)", snap.model_id)
    if m:
        return HashEmbedder(dim=int(m.group(1)))
    if snap.model_id == "all-MiniLM-L6-v2":
        return "minilm"
    return None


def live_version(name: str, home: str | Path | None = None) -> int | None:
    """The live collection's catalog version (``None`` when it no longer exists)."""
    from ponder.store.collection import collections_root

    path = collections_root(home) / name / "catalog.sqlite"
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = 'version'").fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


def check_unchanged(snap: Snapshot, home: str | Path | None = None) -> str | None:
    """``None`` when the live collection is still at the snapshot's version, else a message
    saying what changed and what to do."""
    now = live_version(snap.name, home)
    if now == snap.catalog_version:
        return None
    if now is None:
        return (f"collection {snap.name!r} no longer exists; the model still answers from "
                f"its snapshot (catalog version {snap.catalog_version})")
    return (
        f"collection {snap.name!r} changed since the snapshot (catalog version "
        f"{snap.catalog_version} -> {now}): the model answers from the snapshot; run "
        f"`ponder ops log-model --collection {snap.name}` again to include the changes"
    )


__all__ = [
    "MANIFEST",
    "Snapshot",
    "check_unchanged",
    "embedder_for",
    "live_version",
    "open_snapshot",
    "read_snapshot",
    "snapshot_collection",
]
