"""``ponder.spark.ingest`` (defined here): chunk and embed a DataFrame's texts on Spark, then
write them into a Ponder collection, one catalog transaction per document, idempotently.

    rows ──► (Spark) content hash per row ──► driver: compare with the catalog
         ──► (Spark) chunk + embed the new and changed rows only
         ──► driver: write each document in one transaction (``Collection.write_chunks``)

Like ``ponder ingest`` of a CSV/JSONL file, each row is one document: its id is the row's
``id_col`` value, its text is cut by the same chunker with the collection's own tokenizer,
the ``metadata_cols`` become its metadata, and its content hash (text, metadata, chunk
sizes) decides whether it is unchanged (skipped), changed (replaced) or new. The chunks are
the ones ``ponder ingest`` makes of the same texts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ponder.config import load_settings
from ponder.errors import ConfigError
from ponder.ingest import chunk_document
from ponder.ingest.pipeline import content_hash
from ponder.spark.session import check_columns
from ponder.types import Chunk


@dataclass(frozen=True)
class SparkIngestReport:
    """What a Spark ingest did."""

    collection: str
    rows: int
    added: int
    updated: int
    unchanged: int
    chunks: int
    seconds: float
    catalog_version: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _hash_udf(tag: str) -> Any:
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StringType

    @pandas_udf(StringType())  # type: ignore[call-overload]
    def content_hash_of(
        batches: Iterator[tuple[pd.Series, pd.Series, pd.Series]],
    ) -> Iterator[pd.Series]:
        from ponder.spark.udfs import row_document

        for ids, texts, metas in batches:
            yield pd.Series([
                content_hash(row_document(d, t, json.loads(m) if m else {}), tag)
                for d, t, m in zip(ids.astype(str), texts.fillna("").astype(str), metas,
                                   strict=True)
            ])

    return content_hash_of


def _chunk_embed_udf(embedder: str, size: int, overlap: int) -> Any:
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import (
        ArrayType,
        FloatType,
        IntegerType,
        StringType,
        StructField,
        StructType,
    )

    out_type = ArrayType(StructType([
        StructField("id", StringType()),
        StructField("ordinal", IntegerType()),
        StructField("text", StringType()),
        StructField("start", IntegerType()),
        StructField("end", IntegerType()),
        StructField("vector", ArrayType(FloatType())),
    ]))

    @pandas_udf(out_type)  # type: ignore[call-overload]
    def chunk_and_embed(
        batches: Iterator[tuple[pd.Series, pd.Series]],
    ) -> Iterator[pd.Series]:
        from ponder.spark.udfs import load_embedder_cached, row_document

        emb = load_embedder_cached(embedder, {})
        for ids, texts in batches:
            per_doc = [
                chunk_document(row_document(d, t), emb.tokenize, size, overlap)
                for d, t in zip(ids.astype(str), texts.fillna("").astype(str), strict=True)
            ]
            flat = [c.text for chunks in per_doc for c in chunks]
            vectors = emb.embed(flat) if flat else []
            out, pos = [], 0
            for chunks in per_doc:
                rows = []
                for c in chunks:
                    rows.append({"id": c.id, "ordinal": c.ordinal, "text": c.text,
                                 "start": c.start, "end": c.end,
                                 "vector": vectors[pos].tolist()})
                    pos += 1
                out.append(rows)
            yield pd.Series(out)

    return chunk_and_embed


def ingest(
    df: Any,
    collection: str,
    *,
    text_col: str = "text",
    id_col: str = "id",
    metadata_cols: Sequence[str] = (),
    home: str | Path | None = None,
    embedder: str | None = None,
    chunk_tokens: int | None = None,
    chunk_overlap: int | None = None,
) -> SparkIngestReport:
    """Chunk and embed ``df``'s ``text_col`` on Spark and write the rows into ``collection``
    (created if needed, with ``embedder``), one transaction per document; unchanged rows are
    skipped. Row ids must be unique."""
    from pyspark.sql import functions as F

    from ponder.store.collection import Collection

    started = time.perf_counter()
    check_columns(df.columns, [text_col, id_col, *metadata_cols], what="spark ingest")
    s = load_settings(home=str(home) if home else None, chunk_tokens=chunk_tokens,
                      chunk_overlap=chunk_overlap)
    size, overlap = s.chunk_tokens, s.chunk_overlap
    tag = f"chunks={size}/{overlap}"
    meta = (F.to_json(F.struct(*[F.col(c) for c in metadata_cols])) if metadata_cols
            else F.lit("{}"))
    rows = df.select(F.col(id_col).cast("string").alias("doc_id"),
                     F.col(text_col).cast("string").alias("text"), meta.alias("meta"))
    rows = rows.where(F.col("doc_id").isNotNull())
    with Collection.get_or_create(collection, home=s.home, embedder=embedder) as col:
        emb_name = col.catalog.get_setting("config").get("embedder") or embedder or s.embedder
        if col.model_id == "external":
            raise ConfigError(f"collection {collection!r} takes only precomputed embeddings")
        hashed = rows.withColumn("chash", _hash_udf(tag)("doc_id", "text", "meta")).cache()
        try:
            pairs = [(r["doc_id"], r["chash"]) for r in hashed.select("doc_id", "chash")
                     .collect()]
            ids = [d for d, _ in pairs]
            if len(set(ids)) != len(ids):
                dup = next(d for d in ids if ids.count(d) > 1)
                raise ConfigError(
                    f"spark ingest: id {dup!r} appears on more than one row of {id_col!r}; "
                    "row ids must be unique (one document per row)"
                )
            old = col.catalog.document_hashes(ids)
            todo = [d for d, h in pairs if old.get(d) != h]
            added = updated = chunks_written = 0
            if todo:
                spark = df.sparkSession
                todo_df = spark.createDataFrame([(d,) for d in todo], ["doc_id"])
                work = hashed.join(F.broadcast(todo_df), on="doc_id").withColumn(
                    "chunks", _chunk_embed_udf(emb_name, size, overlap)("doc_id", "text")
                )
                for r in work.select("doc_id", "meta", "chash", "chunks").toLocalIterator():
                    doc_id, chunks_json = r["doc_id"], r["chunks"] or []
                    metadata = json.loads(r["meta"]) if r["meta"] else {}
                    if not chunks_json:
                        continue  # no text: ponder ingest skips such rows too
                    chunks = [Chunk(id=c["id"], doc_id=doc_id, text=c["text"], source=doc_id,
                                    start=c["start"], end=c["end"], metadata=dict(metadata),
                                    ordinal=c["ordinal"]) for c in chunks_json]
                    vectors = np.asarray([c["vector"] for c in chunks_json], dtype=np.float32)
                    col.write_chunks(doc_id, chunks, vectors, source=doc_id,
                                     content_hash=r["chash"], metadata=metadata)
                    chunks_written += len(chunks)
                    if doc_id in old:
                        updated += 1
                    else:
                        added += 1
        finally:
            hashed.unpersist()
        version = col.catalog.version()
    return SparkIngestReport(
        collection=collection, rows=len(pairs), added=added, updated=updated,
        unchanged=len(pairs) - len(todo), chunks=chunks_written,
        seconds=time.perf_counter() - started, catalog_version=version,
    )


__all__ = ["SparkIngestReport", "ingest"]
