"""The systems compared by ``bench/vector_search.py``, behind one small interface.

Each system is built on the same vectors (unit length, cosine) and the same metadata
(``bucket``: uniform integer 0-999, uncorrelated with the vectors; ``pos``: the rank of the
vector along the data's first principal component, in [0, 1), so that a range of ``pos``
around the query's own value is a filter correlated with the query, and the far end of the
range an anti-correlated one). A filter is ``lo <= field < hi``.

- ``PonderSystem``: a Ponder collection (any index type, any strategy);
- ``FaissSelectorSystem``: the same FAISS HNSW object searched raw with an ``IDSelectorBatch``
  and a fixed ``efSearch`` (what FAISS users write; faiss#4727);
- ``ChromaSystem``: chromadb (HNSW, same M / efConstruction / efSearch), ``where`` filter;
- ``LanceSystem``: LanceDB with an IVF_HNSW_SQ or IVF_PQ index, pre- or post-filtering.
"""

from __future__ import annotations

import os

os.environ.setdefault("LANCE_LOG", "error")  # one deprecation warning per query otherwise
os.environ.setdefault("RUST_LOG", "error")

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np


@dataclass(frozen=True)
class Filter:
    field: str
    lo: float
    hi: float

    def mask(self, meta: dict[str, np.ndarray]) -> np.ndarray:
        v = meta[self.field]
        return (v >= self.lo) & (v < self.hi)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class System:
    name = ""

    def search(self, q: np.ndarray, k: int, flt: Filter | None) -> list[int]:
        raise NotImplementedError

    def set_effort(self, value: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class PonderSystem(System):
    def __init__(self, col: Any, strategy: str = "auto", name: str = "") -> None:
        self.col = col
        self.strategy = strategy
        self.name = name or f"ponder-{col.index_state.spec.kind}-{strategy}"
        self.plans: list[Any] = []

    def search(self, q: np.ndarray, k: int, flt: Filter | None) -> list[int]:
        where = {flt.field: {"$gte": flt.lo, "$lt": flt.hi}} if flt else None
        hits = self.col.search(embedding=q, k=k, where=where, strategy=self.strategy)
        return [int(h.chunk.id[1:]) for h in hits]

    def set_effort(self, value: int) -> None:
        index = self.col.index_state.get()
        knob = {"hnsw": "ef_search", "ivf": "nprobe", "ivf-pq": "nprobe", "pq": "rerank"}
        index.params[knob[index.kind]] = value


class FaissSelectorSystem(System):
    """Raw FAISS on the very index object Ponder built (pk = row + 1)."""

    name = "faiss-hnsw+IDSelector"

    def __init__(self, faiss_index: faiss.Index, meta: dict[str, np.ndarray], ef: int) -> None:
        self.index = faiss_index
        self.meta = meta
        self.ef = ef

    def search(self, q: np.ndarray, k: int, flt: Filter | None) -> list[int]:
        params = faiss.SearchParametersHNSW()
        params.efSearch = self.ef
        if flt is not None:
            ids = np.flatnonzero(flt.mask(self.meta)).astype(np.int64) + 1
            sel = faiss.IDSelectorBatch(ids)
            params.sel = sel
        _, pks = self.index.search(q[None, :].astype(np.float32), k, params=params)
        return [int(p) - 1 for p in pks[0] if p >= 0]

    def set_effort(self, value: int) -> None:
        self.ef = value


class ChromaSystem(System):
    name = "chroma-hnsw"

    def __init__(self, x: np.ndarray, meta: dict[str, np.ndarray], m: int, efc: int, ef: int):
        import chromadb

        self.path = Path(tempfile.mkdtemp(prefix="bench-chroma-"))
        client = chromadb.PersistentClient(path=str(self.path))
        self.col = client.create_collection(
            "bench",
            configuration={
                "hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": efc,
                         "ef_search": ef}
            },
        )  # fmt: skip
        started = time.perf_counter()
        step = 5000
        for i in range(0, len(x), step):
            rows = range(i, min(i + step, len(x)))
            self.col.add(
                ids=[str(r) for r in rows],
                embeddings=x[i : i + len(rows)],
                metadatas=[
                    {"bucket": int(meta["bucket"][r]), "pos": float(meta["pos"][r])} for r in rows
                ],
            )
        self.build_s = time.perf_counter() - started
        self.disk_bytes = folder_bytes(self.path)

    def search(self, q: np.ndarray, k: int, flt: Filter | None) -> list[int]:
        where = (
            {"$and": [{flt.field: {"$gte": flt.lo}}, {flt.field: {"$lt": flt.hi}}]}
            if flt
            else None
        )
        r = self.col.query(query_embeddings=q[None, :], n_results=k, where=where, include=[])
        return [int(i) for i in r["ids"][0]]

    def set_effort(self, value: int) -> None:
        self.col.modify(configuration={"hnsw": {"ef_search": value}})

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class LanceSystem(System):
    def __init__(
        self,
        x: np.ndarray,
        meta: dict[str, np.ndarray],
        index_type: str = "IVF_HNSW_SQ",
        prefilter: bool = True,
        shared: LanceSystem | None = None,
    ) -> None:
        import lancedb
        import pyarrow as pa

        self.prefilter = prefilter
        self.index_type = index_type
        self.name = f"lancedb-{index_type.lower()}-{'pre' if prefilter else 'post'}filter"
        self.nprobes: int | None = None
        self.ef: int | None = None
        self.refine: int | None = None
        if shared is not None:  # same table, other filtering mode
            self.path, self.table = shared.path, shared.table
            self.build_s, self.disk_bytes = shared.build_s, shared.disk_bytes
            self.owner = False
            return
        self.owner = True
        self.path = Path(tempfile.mkdtemp(prefix="bench-lance-"))
        db = lancedb.connect(str(self.path))
        n, d = x.shape
        data = pa.table(
            {
                "id": np.arange(n),
                "vector": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), d),
                "bucket": meta["bucket"],
                "pos": meta["pos"],
            }
        )
        started = time.perf_counter()
        self.table = db.create_table("bench", data=data)
        parts = max(1, int(np.sqrt(n)))
        self.table.create_index(
            metric="cosine", index_type=index_type, num_partitions=parts,
            num_sub_vectors=d // 8 if index_type.endswith("PQ") else None,
        )  # fmt: skip
        self.table.create_scalar_index("bucket")
        self.table.create_scalar_index("pos")
        self.build_s = time.perf_counter() - started
        self.disk_bytes = folder_bytes(self.path)

    def search(self, q: np.ndarray, k: int, flt: Filter | None) -> list[int]:
        s = self.table.search(q).metric("cosine").limit(k).select(["id"])
        if self.nprobes:
            s = s.nprobes(self.nprobes)
        if self.ef:
            s = s.ef(self.ef)
        if self.refine:
            s = s.refine_factor(self.refine)
        if flt is not None:
            s = s.where(f"{flt.field} >= {flt.lo} AND {flt.field} < {flt.hi}",
                        prefilter=self.prefilter)  # fmt: skip
        return s.to_arrow().column("id").to_pylist()

    def set_effort(self, value: int) -> None:
        if self.index_type.startswith("IVF_HNSW"):
            self.ef, self.nprobes = value, max(1, value // 8)
        else:
            self.nprobes, self.refine = value, 4

    def close(self) -> None:
        if self.owner:
            shutil.rmtree(self.path, ignore_errors=True)
