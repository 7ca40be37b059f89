"""Keeping a derived vector index in step with the catalog.

On disk a collection's index is ``index.faiss`` plus ``index.json``, which records the catalog
version it covers, the number of vectors and the index settings. On open:

- the file covers the current version: it is used as is;
- it is older (another process wrote, or this one died before saving): it is caught up from the
  catalog by adding and removing the difference, with a one-line notice;
- it is missing, corrupt, from another Ponder format, of other settings or of another
  embedding model (the collection was migrated): it is rebuilt from the catalog, with a
  one-line notice.

An index held in memory follows a migration made by another process too: when the catalog
version moves, the embedding model recorded in the catalog is checked, and a switch rebuilds
the index from the new vectors (with the new dimension) instead of catching up.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import VectorIndexError
from ponder.store.catalog import Catalog
from ponder.store.indexes import VectorIndex, index_class, make_index

log = logging.getLogger("ponder")
FORMAT = 1


@dataclass
class IndexSpec:
    kind: str
    metric: str
    dim: int
    params: dict[str, Any]
    model: str = ""  # the embedding model of the vectors (recorded beside the settings)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "metric": self.metric, "dim": self.dim, "params": self.params}


class IndexState:
    """The in-memory index of one collection and the catalog version it covers."""

    def __init__(self, folder: Path, catalog: Catalog, spec: IndexSpec) -> None:
        self.folder = folder
        self.catalog = catalog
        self.spec = spec
        self.index: VectorIndex | None = None
        self.version = -1
        self.dirty = False  # in memory differs from the file on disk
        self.notices: list[str] = []

    @property
    def file(self) -> Path:
        return self.folder / "index.faiss"

    @property
    def meta_file(self) -> Path:
        return self.folder / "index.json"

    def _notice(self, msg: str) -> None:
        self.notices.append(msg)
        log.warning(msg)

    # ------------------------------------------------------------------ load / build
    def get(self, version: int | None = None) -> VectorIndex:
        """The index, caught up with the catalog (and trained, once it has enough vectors).
        ``version``: the catalog version the caller has just read, to save reading it again."""
        current = self.catalog.version() if version is None else version
        if self.index is None:
            self._load_or_build(current)
        elif self.version != current:
            if self._model_switched():
                self.rebuild(current)
            else:
                self._catch_up(current, quiet=True)
        assert self.index is not None
        if self.index.needs_training and self.index.maybe_train():
            self.dirty = True
        return self.index

    def _model_switched(self) -> bool:
        """Did the catalog switch embedding model (``ponder collections migrate``)? Then take
        its model and dimension: the vectors in memory are another model's."""
        cfg = self.catalog.get_setting("config") or {}
        model = cfg.get("model_id", self.spec.model)
        if model == self.spec.model:
            return False
        self.spec = IndexSpec(
            cfg["index"], cfg["metric"], int(cfg["dim"]), dict(cfg["params"]), model
        )
        return True

    def _attach(self, index: VectorIndex) -> VectorIndex:
        index.vector_source = self.vectors
        self.index = index
        return index

    def vectors(self, pks: np.ndarray) -> np.ndarray:
        """Exact vectors of ``pks`` from the catalog, in that order (for re-ranking)."""
        found = self.catalog.vectors_by_pk([int(p) for p in pks])
        missing = [int(p) for p in pks if int(p) not in found]
        if missing:
            raise VectorIndexError(
                f"collection {self.catalog.name!r}: vectors of pks {missing[:5]} are not in the "
                "catalog (written by another process meanwhile?); retry the search"
            )
        if not len(pks):
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        return np.vstack([found[int(p)] for p in pks])

    def _load_or_build(self, current: int) -> None:
        name = self.catalog.name
        if not self.file.exists() or not self.meta_file.exists():
            if self.catalog.count_chunks():
                self._notice(f"collection {name!r}: no index file; building it from the catalog")
            self.rebuild(current)
            return
        try:
            meta = json.loads(self.meta_file.read_text())
            if meta.get("format") != FORMAT:
                raise VectorIndexError(f"index format {meta.get('format')}, expected {FORMAT}")
            if meta.get("spec") != self.spec.to_json():
                raise VectorIndexError("index settings changed")
            if meta.get("model", self.spec.model) != self.spec.model:
                raise VectorIndexError("the collection was migrated to another embedding model")
            cls = index_class(self.spec.kind)
            if meta.get("kind_version", 1) != cls.file_version:
                raise VectorIndexError(
                    f"{self.spec.kind} file layout {meta.get('kind_version', 1)}, this Ponder "
                    f"reads {cls.file_version}"
                )
            index = cls.load(self.file, self.spec.dim, self.spec.metric, **self.spec.params)
            if len(index) != meta.get("count"):
                raise VectorIndexError("vector count differs from its record")
        except (VectorIndexError, ValueError, OSError, KeyError) as e:
            self._notice(
                f"collection {name!r}: index file unusable ({e}); rebuilt from the catalog"
            )
            self.rebuild(current)
            return
        self._attach(index)
        self.version = int(meta["version"])
        if self.version != current:
            self._catch_up(current, quiet=False)

    def rebuild(self, current: int | None = None) -> None:
        current = self.catalog.version() if current is None else current
        pks, vectors = self.catalog.all_vectors(self.spec.dim)
        index = make_index(self.spec.kind, self.spec.dim, self.spec.metric, **self.spec.params)
        self._attach(index)
        if index.needs_training:
            index.train(vectors)
        index.add(pks, vectors)
        self.version = current
        self.dirty = True

    def _catch_up(self, current: int, *, quiet: bool) -> None:
        assert self.index is not None
        have = self.index.pks()
        want = self.catalog.all_pks()
        gone = np.setdiff1d(have, want, assume_unique=True)
        new = np.setdiff1d(want, have, assume_unique=True)
        self.index.remove(gone)
        if len(new):
            vecs = self.catalog.vectors_by_pk(new.tolist())
            self.index.add(new, np.vstack([vecs[int(p)] for p in new]))
        if not quiet:
            self._notice(
                f"collection {self.catalog.name!r}: index was behind the catalog; caught up "
                f"(+{len(new)} -{len(gone)} vectors)"
            )
        self.version = current
        self.dirty = True

    # ------------------------------------------------------------------ writes
    def apply(
        self, version_before: int, removed: list[int], added: list[int], vectors: np.ndarray
    ) -> None:
        """Mirror this process's committed write; fall back to a catch-up if others wrote too."""
        if self.index is None:
            return
        after = self.catalog.version()
        if self.version == version_before and after == version_before + 1:
            self.index.remove(np.asarray(removed, dtype=np.int64))
            if added:
                self.index.add(np.asarray(added, dtype=np.int64), vectors)
            self.version = after
            self.dirty = True
        elif self._model_switched():
            self.rebuild(after)
        else:
            self._catch_up(after, quiet=True)

    def save(self) -> None:
        if self.index is None or not self.dirty:
            return
        self.index.save(self.file)
        meta = {
            "format": FORMAT,
            "version": self.version,
            "count": len(self.index),
            "spec": self.spec.to_json(),
            "model": self.spec.model,
            "kind_version": self.index.file_version,
        }
        tmp = self.meta_file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, self.meta_file)
        self.dirty = False
