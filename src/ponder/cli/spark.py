"""``ponder spark``: batch jobs on Spark (local mode by default, or a cluster's master).

    ponder spark embed  --input passages.jsonl --output vectors.parquet [--text-col text]
    ponder spark ingest --input rows.parquet --collection notes --id-col id --metadata-cols year
    ponder spark answer --input questions.jsonl --collection notes --output answers.jsonl

Inputs are ``.parquet`` (file or folder) or ``.jsonl``; an output ending in ``.parquet`` or
``.jsonl`` is one file written by the driver, any other path is a Parquet folder written by
the executors (what a cluster wants).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import typer

from ponder.cli.common import console, console_err, print_json, settings
from ponder.errors import InputError

spark_app = typer.Typer(
    name="spark",
    help="Batch jobs on Spark: embed, ingest into a collection, answer questions.",
    no_args_is_help=True,
)

_MASTER_HELP = "Spark master: local[2] (default), local[*], spark://host:7077, yarn..."


def read_input(spark: Any, path: Path) -> Any:
    """A DataFrame from a ``.jsonl``/``.json`` file or a Parquet file or folder."""
    if not path.exists():
        raise InputError(f"input {path} not found: give a .parquet or .jsonl file")
    name = path.name.lower()
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return spark.read.json(str(path))
    if name.endswith(".parquet") or path.is_dir():
        return spark.read.parquet(str(path))
    raise InputError(f"input {path}: use a .parquet file or folder, or a .jsonl file")


def write_output(df: Any, path: Path) -> int:
    """Write ``df``; return the number of rows written."""
    name = path.name.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".jsonl"):
        frame = df.toPandas()
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
        return len(frame)
    if name.endswith(".parquet"):
        frame = df.toPandas()
        frame.to_parquet(path, index=False)
        return len(frame)
    df = df.cache()
    n = df.count()
    df.write.mode("overwrite").parquet(str(path))
    df.unpersist()
    return n


def embed(
    input: Path = typer.Option(..., "--input", "-i", help="Input .parquet or .jsonl."),
    output: Path = typer.Option(..., "--output", "-o", help="Output .parquet/.jsonl/folder."),
    text_col: str = typer.Option("text", "--text-col", help="Column holding the text."),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder (settings)."),
    master: str = typer.Option("local[2]", "--master", help=_MASTER_HELP),
) -> None:
    """Add an embedding column (array<float>) to every row."""
    from ponder.spark.session import check_columns, get_spark
    from ponder.spark.udfs import embed_udf

    name = embedder or settings().embedder
    spark = get_spark(master)
    df = read_input(spark, input)
    check_columns(df.columns, [text_col], what="spark embed")
    n = write_output(df.withColumn("embedding", embed_udf(name)(text_col)), output)
    console.print(f"embedded {n} rows with {name} -> {output}", highlight=False)


def ingest(
    input: Path = typer.Option(..., "--input", "-i", help="Input .parquet or .jsonl."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to write."),
    text_col: str = typer.Option("text", "--text-col", help="Column holding the text."),
    id_col: str = typer.Option("id", "--id-col", help="Column holding the document id."),
    metadata_cols: str | None = typer.Option(
        None, "--metadata-cols", help="Comma-separated columns kept as metadata."
    ),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder for a new one."),
    master: str = typer.Option("local[2]", "--master", help=_MASTER_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Chunk and embed on Spark, write into a collection (unchanged rows are skipped)."""
    from ponder.spark.frame_ingest import ingest as run_ingest
    from ponder.spark.session import get_spark

    spark = get_spark(master)
    df = read_input(spark, input)
    meta = [c.strip() for c in (metadata_cols or "").split(",") if c.strip()]
    report = run_ingest(df, collection, text_col=text_col, id_col=id_col, metadata_cols=meta,
                        home=settings().home, embedder=embedder)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"{collection}: {report.added} added, {report.updated} updated, {report.unchanged} "
        f"unchanged of {report.rows} rows; {report.chunks} chunks written in "
        f"{report.seconds:.1f}s (catalog version {report.catalog_version})", highlight=False)


def answer(
    input: Path = typer.Option(..., "--input", "-i", help="Questions, .parquet or .jsonl."),
    output: Path = typer.Option(..., "--output", "-o", help="Output .parquet/.jsonl/folder."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to answer from."),
    question_col: str = typer.Option("question", "--question-col", help="Questions' column."),
    model: str | None = typer.Option(None, "--model", "-m", help="Generator spec (settings)."),
    k: int | None = typer.Option(None, "-k", "--k", help="Chunks to retrieve (default 3)."),
    retrieval: str | None = typer.Option(None, "--retrieval", help="dense | bm25 | hybrid."),
    answer_mode: str | None = typer.Option(
        None, "--answer", help="auto | generative | extractive."
    ),
    max_new_tokens: int | None = typer.Option(None, "--max-tokens", help="Answer tokens."),
    master: str = typer.Option("local[2]", "--master", help=_MASTER_HELP),
) -> None:
    """Answer every question from a snapshot of the collection (a batch ponder ask)."""
    from pyspark.sql import functions as F

    from ponder.spark.session import check_columns, get_spark
    from ponder.spark.udfs import answer_udf, snapshot_for_spark

    opts = {key: v for key, v in {"k": k, "retrieval": retrieval, "answer": answer_mode,
                                  "max_new_tokens": max_new_tokens}.items() if v is not None}
    spark = get_spark(master)
    df = read_input(spark, input)
    check_columns(df.columns, [question_col], what="spark answer")
    with tempfile.TemporaryDirectory(prefix="ponder-spark-snap-") as tmp:
        ship = not master.startswith("local")
        snap = snapshot_for_spark(collection, Path(tmp) / "snapshot", home=settings().home,
                                  spark=spark if ship else None)
        udf = answer_udf(model=model or settings().model, **snap, **opts)
        out = df.withColumn("_a", udf(question_col)).select(
            "*", *(F.col(f"_a.{f}").alias(f) for f in ("answer", "status", "mode", "citations",
                                                       "unsupported"))
        ).drop("_a")
        n = write_output(out, output)
    console_err.print(f"answered {n} questions from {collection} (catalog version "
                      f"{snap['expected_version']}) -> {output}", highlight=False)


spark_app.command("embed")(embed)
spark_app.command("ingest")(ingest)
spark_app.command("answer")(answer)


def register(app: typer.Typer) -> None:
    app.add_typer(spark_app, name="spark")
