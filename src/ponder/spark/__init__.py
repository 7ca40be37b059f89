"""Batch work on Spark: pandas UDFs over Ponder's models, ingest into a collection, batch ask.

- ``get_spark(master="local[2]")``: a session set for these UDFs (checks Java 17+ first).
- ``embed_udf``, ``chunk_udf``, ``answer_udf``, ``sentiment_udf``, ``summarize_udf``,
  ``classify_udf``: iterator-style pandas UDFs that load their model once per worker.
- ``ingest(df, collection, text_col=..., id_col=..., metadata_cols=...)``: chunk and embed on
  Spark, write into a collection in catalog transactions, idempotent by content hash.
- ``snapshot_for_spark``: a collection snapshot for ``answer_udf`` (shipped to executors).

A registered RAG model scores a DataFrame too: ``mlflow.pyfunc.spark_udf(spark,
"models:/NAME@champion", env_manager="local")`` (see ``docs/ops.md``).

PySpark is imported only when one of these names is used:

>>> import ponder.spark
>>> ponder.spark.embed_udf.__module__
'ponder.spark.udfs'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "get_spark": "ponder.spark.session",
    "check_java": "ponder.spark.session",
    "embed_udf": "ponder.spark.udfs",
    "chunk_udf": "ponder.spark.udfs",
    "answer_udf": "ponder.spark.udfs",
    "sentiment_udf": "ponder.spark.udfs",
    "summarize_udf": "ponder.spark.udfs",
    "classify_udf": "ponder.spark.udfs",
    "snapshot_for_spark": "ponder.spark.udfs",
    "SparkIngestReport": "ponder.spark.frame_ingest",
}


def ingest(df: Any, collection: str, **options: Any) -> Any:
    """Chunk and embed ``df`` on Spark and write it into ``collection`` (see
    ``ponder.spark.frame_ingest.ingest`` for the options: ``text_col``, ``id_col``,
    ``metadata_cols``, ``home``, ``embedder``, ``chunk_tokens``, ``chunk_overlap``)."""
    from ponder.spark.frame_ingest import ingest as run

    return run(df, collection, **options)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder.spark' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted([*_EXPORTS, "ingest"])
