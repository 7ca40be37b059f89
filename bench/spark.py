"""Embedding on Spark ``local[2]`` vs in-process, on the same 2 cores.

Passages: SciFact abstracts (title + text, ../shared/datasets/beir_scifact) then chunks of the
standard library's pydoc text (Ponder's own chunker), up to ``--n`` (20,000 by default).

- in-process: ``load_embedder("minilm")`` with 2 threads, one ``embed`` call over everything;
- Spark: ``embed_udf``'s code path (the same per-worker cached embedder, 1 thread per worker,
  2 workers) over ``--partitions`` partitions, run twice: *cold* (fresh Python workers:
  worker start and model load included) and *warm* (workers reused, model cached: the steady
  state of a long job). Each Arrow batch records its model-load and compute seconds, so the
  job's wall time splits into startup (SparkSession), model load, compute and the rest
  (Arrow transfer, Python workers, scheduling).
- a projection for N executors from the measured per-partition figures.

    .venv/bin/python bench/spark.py --n 20000            # bench/results/spark.{json,md}
    .venv/bin/python bench/spark.py --n 4000 --tag quick
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, RESULTS, machine


def passages(n: int) -> tuple[list[str], dict[str, int]]:
    texts: list[str] = []
    corpus = DATASETS / "beir_scifact" / "corpus.jsonl"
    counts = {"scifact": 0, "stdlib": 0}
    if corpus.is_file():
        for line in corpus.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append(f"{row.get('title', '')}\n{row.get('text', '')}".strip())
            if len(texts) >= n:
                break
        counts["scifact"] = len(texts)
    if len(texts) < n:
        from ponder.embed import load_embedder
        from ponder.ingest import chunk_document, load_pydoc, stdlib_modules

        tok = load_embedder("minilm").tokenize
        for item in load_pydoc(stdlib_modules()):
            if isinstance(item, Exception):
                continue
            for c in chunk_document(item, tok, 200, 32):
                texts.append(c.text)
                counts["stdlib"] += 1
                if len(texts) >= n:
                    break
            if len(texts) >= n:
                break
    return texts[:n], counts


def load() -> str:
    return " ".join(os.getloadavg().__repr__().strip("()").split(", "))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def in_process(texts: list[str], threads: int) -> dict[str, float]:
    from ponder.embed import load_embedder

    t0 = time.perf_counter()
    emb = load_embedder("minilm", threads=threads)
    emb.embed(["warm up"])
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vecs = emb.embed(texts)
    secs = time.perf_counter() - t0
    return {"threads": threads, "model_load_s": load_s, "compute_s": secs,
            "passages_per_s": len(texts) / secs, "dim": int(vecs.shape[1]), "load": load()}


def timed_embed_udf(threads: int):  # type: ignore[no-untyped-def]
    """``embed_udf`` plus, on the first row of each Arrow batch, the seconds it spent loading
    the model and computing, and the worker's pid."""
    from pyspark.sql import types as T
    from pyspark.sql.functions import pandas_udf

    out = T.StructType([
        T.StructField("vector", T.ArrayType(T.FloatType())),
        T.StructField("load_s", T.DoubleType()),
        T.StructField("compute_s", T.DoubleType()),
        T.StructField("pid", T.IntegerType()),
    ])

    @pandas_udf(out)  # type: ignore[call-overload]
    def embed(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        from ponder.spark.udfs import load_embedder_cached

        t0 = time.perf_counter()
        emb = load_embedder_cached("minilm", {"threads": threads})
        load_s = time.perf_counter() - t0
        for texts in batches:
            t1 = time.perf_counter()
            vecs = emb.embed(texts.fillna("").astype(str).tolist())
            compute = time.perf_counter() - t1
            n = len(texts)
            yield pd.DataFrame({
                "vector": list(vecs),
                "load_s": [load_s] + [0.0] * (n - 1),
                "compute_s": [compute] + [0.0] * (n - 1),
                "pid": [os.getpid()] * n,
            })
            load_s = 0.0

    return embed


def spark_run(spark, texts: list[str], partitions: int, threads: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    df = spark.createDataFrame(pd.DataFrame({"i": range(len(texts)), "text": texts}))
    df = df.repartition(partitions).cache()
    df.count()  # the input is in Spark's memory before timing: we time the UDF job only
    t0 = time.perf_counter()
    rows = (df.withColumn("o", timed_embed_udf(threads)("text"))
            .select(F.spark_partition_id().alias("part"), "o.load_s", "o.compute_s", "o.pid",
                    F.size("o.vector").alias("dim"))
            .toPandas())
    wall = time.perf_counter() - t0
    df.unpersist()
    per_worker = rows.groupby("pid")[["load_s", "compute_s"]].sum()
    per_part = rows.groupby("part").agg(rows=("dim", "size"), compute_s=("compute_s", "sum"),
                                        load_s=("load_s", "sum"))
    critical = float((per_worker["load_s"] + per_worker["compute_s"]).max())
    return {
        "wall_s": wall,
        "passages_per_s": len(texts) / wall,
        "workers": len(per_worker),
        "model_load_s_max_worker": float(per_worker["load_s"].max()),
        "compute_s_per_worker": [round(float(x), 2) for x in per_worker["compute_s"]],
        "other_s": max(0.0, wall - critical),  # Arrow transfer, Python workers, scheduling
        "per_partition": [{"rows": int(r.rows), "compute_s": round(float(r.compute_s), 3),
                           "load_s": round(float(r.load_s), 3)}
                          for r in per_part.itertuples()],
        "dim_ok": bool((rows["dim"] == 384).all()),
        "load": load(),
    }


def projection(n_rows: int, startup: float, warm: dict, cores_per_executor: int = 2) -> list:  # type: ignore[type-arg]
    """Time for ``n_rows`` on N executors (each ``cores_per_executor`` workers), from the warm
    run's per-row compute and other costs, plus startup and one model load per worker."""
    parts = warm["per_partition"]
    rows = sum(p["rows"] for p in parts)
    compute_per_row = sum(p["compute_s"] for p in parts) / rows
    other_per_row = warm["other_s"] * warm["workers"] / rows
    load_s = warm.get("cold_model_load_s", 0.0)
    out = []
    for n_exec in (1, 2, 4, 8, 16, 32):
        workers = n_exec * cores_per_executor
        t = startup + load_s + n_rows * (compute_per_row + other_per_row) / workers
        out.append({"executors": n_exec, "workers": workers, "seconds": round(t, 1),
                    "passages_per_s": round(n_rows / t, 1)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--tag", default="")
    ap.add_argument("--project-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    before = uptime()
    texts, counts = passages(args.n)
    print(f"{len(texts)} passages {counts}; {before}", flush=True)
    local = in_process(texts, threads=2)
    print(f"in-process: {local['passages_per_s']:.1f}/s ({local['compute_s']:.1f}s)", flush=True)
    from ponder.spark.session import get_spark

    t0 = time.perf_counter()
    spark = get_spark(args.master, app_name="ponder-bench")
    startup = time.perf_counter() - t0
    cold = spark_run(spark, texts, args.partitions, threads=1)
    print(f"spark cold: {cold['passages_per_s']:.1f}/s ({cold['wall_s']:.1f}s)", flush=True)
    warm = spark_run(spark, texts, args.partitions, threads=1)
    print(f"spark warm: {warm['passages_per_s']:.1f}/s ({warm['wall_s']:.1f}s)", flush=True)
    spark.stop()
    # in-process again after Spark: the load of a shared machine drifts, so the ratio uses
    # the mean of the runs before and after
    local_after = in_process(texts, threads=2)
    print(f"in-process again: {local_after['passages_per_s']:.1f}/s", flush=True)
    base = (local["passages_per_s"] + local_after["passages_per_s"]) / 2
    warm["cold_model_load_s"] = cold["model_load_s_max_worker"]
    result = {
        "passages": len(texts), "sources": counts, "master": args.master,
        "partitions": args.partitions, "uptime_before": before, "uptime_after": uptime(),
        "in_process": local, "in_process_after": local_after,
        "in_process_mean_passages_per_s": base,
        "spark_startup_s": startup, "spark_cold": cold, "spark_warm": warm,
        "ratio_cold": cold["passages_per_s"] / base,
        "ratio_warm": warm["passages_per_s"] / base,
        "goal": ">= 0.8x in-process throughput",
        "projection_rows": args.project_rows,
        "projection": projection(args.project_rows, startup, warm),
    }
    name = "spark" + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **result},
                                                     indent=2, default=str))
    (RESULTS / f"{name}.md").write_text(report_md(result, machine()))
    print(f"ratio cold {result['ratio_cold']:.2f}, warm {result['ratio_warm']:.2f}; "
          f"saved {RESULTS / name}.json/.md", flush=True)


def report_md(r: dict, m: dict) -> str:  # type: ignore[type-arg]
    c, w, p = r["spark_cold"], r["spark_warm"], r["in_process"]
    a = r["in_process_after"]
    lines = [
        f"# Embedding on Spark {r['master']} vs in-process ({r['passages']} passages)",
        "",
        f"{m['cpu']}, {m['cores']} cores; {r['sources']}; {r['partitions']} partitions.",
        f"Load before: `{r['uptime_before']}`; after: `{r['uptime_after']}`.",
        "",
        "| run | passages/s | wall s | model load s | compute s (per worker) | other s | ratio |",
        "|---|---:|---:|---:|---|---:|---:|",
        f"| in-process (2 threads) | {p['passages_per_s']:.1f} | {p['compute_s']:.1f} | "
        f"{p['model_load_s']:.1f} | {p['compute_s']:.1f} | 0 | - |",
        f"| in-process again, after Spark | {a['passages_per_s']:.1f} | {a['compute_s']:.1f} | "
        f"{a['model_load_s']:.1f} | {a['compute_s']:.1f} | 0 | - |",
        f"| Spark cold (2 workers x 1 thread) | {c['passages_per_s']:.1f} | {c['wall_s']:.1f} "
        f"| {c['model_load_s_max_worker']:.1f} | {c['compute_s_per_worker']} | "
        f"{c['other_s']:.1f} | {r['ratio_cold']:.2f} |",
        f"| Spark warm (workers reused) | {w['passages_per_s']:.1f} | {w['wall_s']:.1f} | "
        f"{w['model_load_s_max_worker']:.1f} | {w['compute_s_per_worker']} | "
        f"{w['other_s']:.1f} | {r['ratio_warm']:.2f} |",
        "",
        f"Ratios are against the mean of the two in-process runs "
        f"({r['in_process_mean_passages_per_s']:.1f}/s). Load average (1/5/15 min) per run: "
        f"in-process {p['load']}; cold {c['load']}; warm {w['load']}; again {a['load']}.",
        "",
        f"SparkSession startup: {r['spark_startup_s']:.1f} s (not in the wall times above). "
        f"Goal: {r['goal']}.",
        "",
        f"Projection for {r['projection_rows']:,} passages (startup + one model load + rows x "
        "(compute + other) per row / workers, from the warm run):",
        "",
        "| executors (x2 cores) | seconds | passages/s |",
        "|---:|---:|---:|",
        *[f"| {x['executors']} | {x['seconds']} | {x['passages_per_s']} |"
          for x in r["projection"]],
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
