"""Pandas UDFs over Ponder's models, for Spark DataFrames.

Every UDF is iterator-style (``Iterator[pd.Series] -> Iterator[pd.Series]``): the model is
loaded once per Python worker (a per-process cache; Spark reuses workers), then every Arrow
batch of every later task reuses it. Models are named (``"minilm"``, ``"smollm2"``, a path),
never pickled: the workers load them from their own installation, offline.

- ``embed_udf(embedder)``: text -> ``array<float>`` (the collection's vectors).
- ``chunk_udf(embedder, chunk_tokens, overlap)``: (doc id, text) -> the chunks ``ponder
  ingest`` makes of that text, as ``array<struct<id, ordinal, text, start, end>>``.
- ``answer_udf(snapshot, model, **ask_options)``: question -> ``struct<answer, status, mode,
  citations (JSON), unsupported array<string>>``, answered from a collection snapshot.
- ``sentiment_udf()``, ``summarize_udf()``, ``classify_udf(labels)``: the task pipelines.

The functions' arguments travel with the UDF (the workers do not read the driver's
environment after the session started): pass model names and paths explicitly.
"""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ponder.config import load_settings
from ponder.embed import load_embedder
from ponder.errors import InputError
from ponder.ingest import chunk_document
from ponder.ingest.textutil import normalize_newlines, paragraph_spans
from ponder.ops.model import RagService, _check_options
from ponder.ops.snapshot import read_snapshot, snapshot_collection
from ponder.tasks import pipeline
from ponder.types import Block, LoadedDocument

_MODELS: dict[tuple[Any, ...], Any] = {}
LOADS: dict[str, float] = {}  # per worker: what was loaded and how long it took (seconds)


def cached(key: tuple[Any, ...], factory: Any) -> Any:
    """One instance per worker process for ``key`` (built by ``factory()`` the first time)."""
    if key not in _MODELS:
        t0 = time.perf_counter()
        _MODELS[key] = factory()
        LOADS[repr(key)] = time.perf_counter() - t0
    return _MODELS[key]


def load_embedder_cached(name: str, options: dict[str, Any]) -> Any:
    """The embedder ``name`` of this worker, its model already loaded (one warm-up call)."""
    def build() -> Any:
        emb = load_embedder(name, **options)
        emb.embed(["warm up"])
        return emb

    return cached(("embedder", name, tuple(sorted(options.items()))), build)


def row_document(doc_id: str, text: str, metadata: dict[str, Any] | None = None,
                 source: str | None = None) -> LoadedDocument:
    """The document ``ponder ingest`` makes of one row's text (paragraph blocks)."""
    text = normalize_newlines(text)
    blocks = [Block("text", a, b) for a, b in paragraph_spans(text)]
    return LoadedDocument(source=source or doc_id, text=text, blocks=blocks,
                          metadata=dict(metadata or {}), doc_id=doc_id)


# ------------------------------------------------------------------------------ types
def _types() -> Any:
    from pyspark.sql import types as T

    return T


def chunk_type() -> Any:
    T = _types()
    return T.ArrayType(T.StructType([
        T.StructField("id", T.StringType()),
        T.StructField("ordinal", T.IntegerType()),
        T.StructField("text", T.StringType()),
        T.StructField("start", T.IntegerType()),
        T.StructField("end", T.IntegerType()),
    ]))


def answer_type() -> Any:
    T = _types()
    return T.StructType([
        T.StructField("answer", T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("mode", T.StringType()),
        T.StructField("citations", T.StringType()),
        T.StructField("unsupported", T.ArrayType(T.StringType())),
    ])


# ------------------------------------------------------------------------------ UDFs
def embed_udf(embedder: str = "minilm", **embedder_options: Any) -> Any:
    """A UDF: text column -> the embedder's vectors (``array<float>``).

    ``embedder_options`` go to ``load_embedder`` (e.g. ``threads=1``: with N workers per
    machine, N x threads should not exceed the cores)."""
    from pyspark.sql.functions import pandas_udf

    T = _types()
    options = dict(embedder_options)

    @pandas_udf(T.ArrayType(T.FloatType()))  # type: ignore[call-overload]
    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        emb = load_embedder_cached(embedder, options)
        for texts in batches:
            vectors = emb.embed(texts.fillna("").astype(str).tolist())
            yield pd.Series(list(vectors))

    return embed


def chunk_udf(embedder: str = "minilm", chunk_tokens: int | None = None,
              chunk_overlap: int | None = None) -> Any:
    """A UDF: (doc id, text) -> the chunks ``ponder ingest`` makes (same tokenizer, same
    sizes: the settings' ``chunk_tokens``/``chunk_overlap`` unless given)."""
    from pyspark.sql.functions import pandas_udf


    s = load_settings()
    size = chunk_tokens or s.chunk_tokens
    overlap = s.chunk_overlap if chunk_overlap is None else chunk_overlap

    @pandas_udf(chunk_type())  # type: ignore[call-overload]
    def chunk(batches: Iterator[tuple[pd.Series, pd.Series]]) -> Iterator[pd.Series]:
        emb = load_embedder_cached(embedder, {})
        for ids, texts in batches:
            out = []
            for doc_id, text in zip(ids.astype(str), texts.fillna("").astype(str),
                                    strict=True):
                chunks = chunk_document(row_document(doc_id, text), emb.tokenize, size,
                                        overlap)
                out.append([{"id": c.id, "ordinal": c.ordinal, "text": c.text,
                             "start": c.start, "end": c.end} for c in chunks])
            yield pd.Series(out)

    return chunk


def _snapshot_folder(snapshot: str, shipped: str | None) -> str:
    """Where this worker finds the snapshot: the path as given when it exists here, else the
    copy Spark shipped with ``SparkContext.addFile`` (``ship=True``)."""
    if shipped:
        from pyspark import SparkFiles

        local = Path(SparkFiles.get(shipped))
        if local.exists():
            return str(local)
    return snapshot


def answer_udf(snapshot: str | Path, model: str = "smollm2", *,
               expected_version: int | None = None, shipped_name: str | None = None,
               **ask_options: Any) -> Any:
    """A UDF: question -> ``struct<answer, status, mode, citations, unsupported>``, answered
    by ``ponder.ask`` from a collection snapshot (``ponder.spark.snapshot_for_spark`` makes
    one) with generator ``model`` and ``ask_options`` (``k=``, ``retrieval=``, ...).

    ``expected_version``: the catalog version the snapshot must hold (a snapshot that changed
    is refused with a clear error)."""
    from pyspark.sql.functions import pandas_udf


    folder = str(snapshot)
    options = _check_options(dict(ask_options))

    @pandas_udf(answer_type())  # type: ignore[call-overload]
    def answer(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        where = _snapshot_folder(folder, shipped_name)
        service = cached(("rag", where, model, json.dumps(options, sort_keys=True)),
                         lambda: _service(where, model, options, expected_version))
        for questions in batches:
            rows = []
            for q in questions.fillna("").astype(str):
                a = service.answer(q)
                rows.append({
                    "answer": a.text, "status": a.status,
                    "mode": str(getattr(a, "mode", "generative")),
                    "citations": json.dumps([c.to_dict() for c in a.citations],
                                            ensure_ascii=False),
                    "unsupported": list(a.unsupported),
                })
            yield pd.DataFrame(rows, columns=["answer", "status", "mode", "citations",
                                              "unsupported"])

    return answer


def snapshot_for_spark(collection: str, dest: str | Path, *, home: str | Path | None = None,
                       spark: Any = None) -> dict[str, Any]:
    """Snapshot ``collection`` into ``dest`` for ``answer_udf``; with ``spark`` the folder is
    also shipped to every executor (``SparkContext.addFile``), for clusters without a shared
    file system. Returns ``answer_udf``'s keyword arguments (``snapshot``,
    ``expected_version``, ``shipped_name``)."""

    snap = snapshot_collection(collection, dest, home=home)
    shipped = None
    if spark is not None:
        spark.sparkContext.addFile(snap.folder, recursive=True)
        shipped = Path(snap.folder).name
    return {"snapshot": snap.folder, "expected_version": snap.catalog_version,
            "shipped_name": shipped}


def _service(folder: str, model: str, options: dict[str, Any],
             expected_version: int | None) -> Any:
    snap = read_snapshot(folder)
    if expected_version is not None and snap.catalog_version != expected_version:
        raise InputError(
            f"the snapshot of {snap.name!r} at {folder} holds catalog version "
            f"{snap.catalog_version}, not {expected_version}: the collection changed since the "
            "snapshot; take a new one (ponder.spark.snapshot_for_spark)"
        )
    return RagService(folder, generator=model, ask_options=options)


def _task_udf(task: str, return_type: Any, convert: Any, model: str | None,
              options: dict[str, Any]) -> Any:
    from pyspark.sql.functions import pandas_udf

    def build() -> Any:
        return pipeline(task, model=model, **options)

    key = ("task", task, model, json.dumps(options, sort_keys=True, default=str))
    T = _types()
    if isinstance(return_type, T.StructType):

        @pandas_udf(return_type)  # type: ignore[call-overload]
        def run_struct(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
            pipe = cached(key, build)
            for texts in batches:
                yield convert(_results(pipe, texts))

        return run_struct

    @pandas_udf(return_type)  # type: ignore[call-overload]
    def run(batches: Iterator[pd.Series]) -> Iterator[pd.Series]:
        pipe = cached(key, build)
        for texts in batches:
            yield convert(_results(pipe, texts))

    return run


def _results(pipe: Any, texts: pd.Series) -> list[dict[str, Any]]:
    """The task's results for a batch of texts, as the JSON objects of ``to_dict()``."""
    return [r.to_dict() for r in pipe(texts.fillna("").astype(str).tolist())]


def _label_frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for r in results:
        label = r.get("label")
        score = r.get("score")
        if label is None and r.get("labels"):
            label, score = r["labels"][0], (r.get("scores") or [None])[0]
        rows.append({"label": None if label is None else str(label),
                     "score": None if score is None else float(score),
                     "result": json.dumps(r, ensure_ascii=False, default=str)})
    return pd.DataFrame(rows, columns=["label", "score", "result"])


def _label_type() -> Any:
    T = _types()
    return T.StructType([T.StructField("label", T.StringType()),
                         T.StructField("score", T.DoubleType()),
                         T.StructField("result", T.StringType())])


def sentiment_udf(model: str | None = None, **options: Any) -> Any:
    """A UDF: text -> ``struct<label, score, result (the pipeline's JSON)>``."""
    return _task_udf("sentiment-analysis", _label_type(), _label_frame, model, options)


def classify_udf(labels: list[str], model: str | None = None, **options: Any) -> Any:
    """A UDF: text -> the best of ``labels`` (``struct<label, score, result>``)."""
    return _task_udf("zero-shot-classification", _label_type(), _label_frame, model,
                     {"labels": list(labels), **options})


def summarize_udf(model: str | None = None, **options: Any) -> Any:
    """A UDF: text -> its summary (``string``)."""
    T = _types()

    def convert(results: list[dict[str, Any]]) -> pd.Series:
        return pd.Series([str(r.get("summary", "")) for r in results])

    return _task_udf("summarization", T.StringType(), convert, model, options)


def worker_pid() -> int:
    return os.getpid()


__all__ = [
    "LOADS",
    "answer_type",
    "answer_udf",
    "cached",
    "chunk_type",
    "chunk_udf",
    "classify_udf",
    "embed_udf",
    "load_embedder_cached",
    "row_document",
    "sentiment_udf",
    "snapshot_for_spark",
    "summarize_udf",
]
