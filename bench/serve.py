"""Serving benchmark: ``ponder serve`` under 16 and 64 concurrent clients, on loopback.

1. In-process baselines (same models, same process settings): ``Collection.search`` latency
   (one query, k=10, the query embedded on the way) and the batched MiniLM encode rate.
2. ``ponder serve`` in a child process (real models: MiniLM, SmolLM2 Q4_1, 2 threads); for
   ``/v1/collections/{c}/query``, ``/v1/embeddings`` (one text per request) and
   ``/v1/chat/completions`` (16 new tokens): ``--seconds`` of load at each concurrency:
   requests/s, p50/p99, errors, 5xx; the server's RSS at start and after each phase.
3. Goals: 0 errors and 0 5xx; query p50 with one client <= in-process search + 3 ms;
   embeddings with 16 clients >= 0.7x the in-process batched encode rate; RSS growth <= 10 %.
4. Peer: llama-cpp-python's own server (``llama_cpp.server``, the bench extra) on the same GGUF
   and threads; streamed greedy chat, 32 new tokens (``--peer-tokens``): tokens/s and time
   to first token, side by side, alternating servers each round (goal: >= 0.9x its
   tokens/s, <= 1.1x its TTFT). Where the CPU's AMX kernels fault on batches (some VMs;
   ``ponder.llm.cpu_probe``) the peer runs in the configurations that work: extra buffers off,
   and default buffers with ``n_ubatch=1``; Ponder is compared with the faster.

Clients run in this process (asyncio + httpx) on the same CPU as the server: figures include
that contention, and the load average is recorded beside every phase.

    .venv/bin/pip install -e '.[bench]'         # llama-cpp-python[server] for the peer
    .venv/bin/python bench/serve.py              # ~8 min; bench/results/serve.{json,md}
    .venv/bin/python bench/serve.py --seconds 5 --no-peer   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine

MODULES = ["csv", "json", "pathlib", "re", "collections", "itertools", "functools", "datetime",
           "subprocess", "argparse", "logging", "sqlite3"]
QUERIES = ["how do I read a csv file with a header row", "parse a json string",
           "join two paths", "match a regular expression at the start", "count items in a list",
           "chain several iterables", "cache the result of a function", "parse a date string",
           "run a command and capture its output", "add a command line option",
           "write log messages to a file", "open a database connection"]
CHAT_PROMPT = "Name a colour."
STORY = ("Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
         " Describe the weather, the sea, the keeper's daily routine and what the message says.")


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def load() -> float:
    return round(os.getloadavg()[0], 2)


# ------------------------------------------------------------------ in-process baselines
def build_collection(home: str) -> tuple[Any, Any, int]:
    from ponder.embed import load_embedder
    from ponder.store.collection import Collection

    emb = load_embedder("minilm")
    col = Collection.create("bench", home=home, embedder=emb)
    col.ingest_pydoc(MODULES)
    col.index_state.save()
    col.search(QUERIES[0], k=10)
    return col, emb, col.count()


def inprocess_search(col: Any, n: int) -> list[float]:
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        col.search(QUERIES[i % len(QUERIES)], k=10)
        lat.append(time.perf_counter() - t0)
    return lat


def inprocess_encode_rate(emb: Any, seconds: float) -> float:
    texts = [f"{q} in python, example {i}" for i, q in enumerate(QUERIES * 3)][:32]
    emb.embed_batch(texts)
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        emb.embed_batch(texts)
        done += len(texts)
    return done / (time.perf_counter() - t0)


# ------------------------------------------------------------------ servers
def start_ponder(home: str, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PONDER_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "ponder.cli.main", "--home", home, "serve", "--port",
           str(port), "--model", "smollm2", "--embedder", "minilm", "--queue-size", "96",
           "--no-access-log"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


PEER_WRAPPER = """
import sys, llama_cpp, llama_cpp.llama as m
if sys.argv.pop(1) == "plain":
    original = llama_cpp.llama_model_default_params
    def params():
        p = original(); p.use_extra_bufts = False; return p
    m.llama_cpp.llama_model_default_params = params
from llama_cpp.server.__main__ import main
main()
"""


def start_peer(port: int, threads: int, mode: str) -> subprocess.Popen[bytes]:
    from ponder.llm.llamacpp import default_model_path

    cmd = [sys.executable, "-c", PEER_WRAPPER, mode, "--model", str(default_model_path()),
           "--model_alias", "peer", "--host", "127.0.0.1", "--port", str(port),
           "--n_threads", str(threads), "--n_threads_batch", str(threads), "--n_ctx", "4096",
           "--n_batch", "512", "--flash_attn", "False", "--verbose", "False"]
    if mode == "ubatch1":
        cmd += ["--n_ubatch", "1"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(url: str, path: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
            raise RuntimeError(f"server exited ({proc.returncode}): {err}")
        try:
            r = httpx.get(url + path, timeout=5)
            if r.status_code == 200 and (path != "/ready" or r.json().get("ready")):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------ load
def request_for(kind: str, i: int) -> tuple[str, dict[str, Any]]:
    if kind == "query":
        return "/v1/collections/bench/query", {"query": QUERIES[i % len(QUERIES)], "k": 10}
    if kind == "embeddings":
        return "/v1/embeddings", {"model": "all-MiniLM-L6-v2",
                                  "input": f"{QUERIES[i % len(QUERIES)]} (request {i})"}
    return "/v1/chat/completions", {"model": "smollm2", "temperature": 0, "max_tokens": 16,
                                    "messages": [{"role": "user", "content": CHAT_PROMPT}]}


async def run_load(url: str, kind: str, clients: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    errors = 0
    server_errors = 0
    counter = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        async def worker() -> None:
            nonlocal errors, server_errors, counter
            while time.perf_counter() < deadline:
                counter += 1
                path, body = request_for(kind, counter)
                t0 = time.perf_counter()
                try:
                    r = await client.post(path, json=body)
                    if r.status_code != 200:
                        errors += 1
                        server_errors += r.status_code >= 500
                    else:
                        lat.append(time.perf_counter() - t0)
                except httpx.HTTPError:
                    errors += 1

        t_start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - t_start
    return {"endpoint": kind, "clients": clients, "requests": len(lat) + errors,
            "ok": len(lat), "rps": len(lat) / elapsed, "p50_ms": 1000 * pct(lat, 50),
            "p99_ms": 1000 * pct(lat, 99), "errors": errors, "5xx": server_errors}


def embed_ratio(url: str, emb: Any, blocks: int, seconds: float) -> dict[str, Any]:
    """Embeddings/s of 16 single-text clients over the in-process batched encode rate, in
    alternating blocks (server, then in-process) so that the machine's load hits both alike."""
    served, served_s, local, local_s = 0, 0.0, 0.0, 0.0
    for _ in range(blocks):
        res = asyncio.run(run_load(url, "embeddings", 16, seconds))
        served += res["ok"]
        served_s += res["ok"] / res["rps"] if res["rps"] else seconds
        t0 = time.perf_counter()
        rate = inprocess_encode_rate(emb, seconds / 2)
        dt = time.perf_counter() - t0
        local += rate * dt
        local_s += dt
    server_rate, local_rate = served / served_s, local / local_s
    return {"server_16_per_s": server_rate, "in_process_per_s": local_rate,
            "ratio": server_rate / local_rate, "blocks": blocks, "load": load()}


def sequential(url: str, kind: str, n: int) -> list[float]:
    out = []
    with httpx.Client(base_url=url, timeout=120) as c:
        for i in range(n):
            path, body = request_for(kind, i)
            t0 = time.perf_counter()
            c.post(path, json=body).raise_for_status()
            out.append(time.perf_counter() - t0)
    return out


def stream_chat(url: str, model: str, prompt: str, max_tokens: int) -> dict[str, float]:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True,
            "temperature": 0, "max_tokens": max_tokens}
    stamps: list[float] = []
    t0 = time.perf_counter()
    with httpx.Client(timeout=300) as c, c.stream("POST", url + "/v1/chat/completions",
                                                  json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            ev = json.loads(line[5:])
            for ch in ev.get("choices") or []:
                if (ch.get("delta") or {}).get("content"):
                    stamps.append(time.perf_counter())
    tps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
    return {"ttft_s": stamps[0] - t0 if stamps else float("nan"), "tokens_per_s": tps,
            "chunks": len(stamps)}


def compare_peer(ponder_url: str, port: int, threads: int, rounds: int,
                 max_tokens: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("plain", "ubatch1"):
        proc = start_peer(port, threads, mode)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, "/v1/models", proc, timeout=180)
            stream_chat(url, "peer", "Hello", 4)
            runs: dict[str, list[dict[str, float]]] = {"ponder": [], "peer": []}
            for r in range(rounds):
                prompt = f"Story {r + 1} ({mode}). {STORY}"  # a new prefix: no prompt reuse
                runs["ponder"].append(stream_chat(ponder_url, "smollm2", prompt, max_tokens))
                runs["peer"].append(stream_chat(url, "peer", prompt, max_tokens))
            out[mode] = {
                name: {"tokens_per_s": statistics.median(x["tokens_per_s"] for x in rs),
                       "ttft_s": statistics.median(x["ttft_s"] for x in rs),
                       "chunks": statistics.median(x["chunks"] for x in rs)}
                for name, rs in runs.items()
            }
            out[mode]["load"] = load()
        except Exception as e:  # reported, not hidden
            out[mode] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            stop(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", default="16,64")
    ap.add_argument("--endpoints", default="query,embeddings,chat")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--port", type=int, default=8731)
    ap.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peer-tokens", type=int, default=32)
    ap.add_argument("--out", default="serve")
    args = ap.parse_args()
    clients = [int(x) for x in args.clients.split(",")]
    os.environ["PONDER_THREADS"] = str(args.threads)
    home = tempfile.mkdtemp(prefix="ponder-bench-serve-")
    result: dict[str, Any] = {"machine": machine(), "args": vars(args), "load_start": load()}
    print("building the collection…", flush=True)
    col, emb, n_chunks = build_collection(home)
    url = f"http://127.0.0.1:{args.port}"
    proc = start_ponder(home, args.port, args.threads)
    try:
        wait_ready(url, "/ready", proc)
        for kind in ("query", "embeddings", "chat"):
            sequential(url, kind, 3)
        rss = {"start": rss_mb(proc.pid)}
        # one client vs in-process, in alternating blocks so that load changes hit both alike
        seq: list[float] = []
        local: list[float] = []
        for _ in range(4):
            local += inprocess_search(col, 50)
            seq += sequential(url, "query", 50)
        rss["after_200_query"] = rss_mb(proc.pid)
        result["query_one_client"] = {"p50_ms": 1000 * pct(seq, 50),
                                      "p99_ms": 1000 * pct(seq, 99), "load": load()}
        seq_e = sequential(url, "embeddings", 800)
        rss["after_1000"] = rss_mb(proc.pid)
        result["embeddings_one_client"] = {"p50_ms": 1000 * pct(seq_e, 50), "load": load()}
        rates = [inprocess_encode_rate(emb, 4.0)]
        phases = []
        for kind in args.endpoints.split(","):
            for n in clients:
                print(f"{kind} x{n} for {args.seconds:.0f} s…", flush=True)
                res = asyncio.run(run_load(url, kind, n, args.seconds))
                res["load"] = load()
                res["rss_mb"] = rss_mb(proc.pid)
                phases.append(res)
                print(json.dumps(res), flush=True)
                if kind == "embeddings":
                    rates.append(inprocess_encode_rate(emb, 4.0))
        result["phases"] = phases
        if "embeddings" in args.endpoints:
            print("embeddings ratio, alternating blocks…", flush=True)
            result["embed_ratio"] = embed_ratio(url, emb, 4, 8.0)
            print(json.dumps(result["embed_ratio"]), flush=True)
        result["in_process"] = base = {
            "chunks": n_chunks, "search_p50_ms": 1000 * pct(local, 50),
            "search_p99_ms": 1000 * pct(local, 99),
            "encode_batch32_texts_per_s": statistics.median(rates),
            "encode_rates": rates, "load": load()}
        print(json.dumps(base, indent=1), flush=True)
        rss["end"] = rss_mb(proc.pid)
        result["rss_mb"] = rss
        metrics = httpx.get(url + "/metrics").text
        result["embed_batch_sizes"] = [line for line in metrics.splitlines()
                                       if line.startswith("ponder_embed_batch_size_")]
        if args.peer:
            print("peer comparison…", flush=True)
            result["peer"] = compare_peer(url, args.port + 1, args.threads, args.rounds,
                                          args.peer_tokens)
            print(json.dumps(result["peer"], indent=1), flush=True)
    finally:
        stop(proc)
        col.close()
    result["goals"] = goals(result)
    result["load_end"] = load()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2, default=str))
    (RESULTS / f"{args.out}.md").write_text(markdown(result))
    print(markdown(result))


def goals(r: dict[str, Any]) -> dict[str, Any]:
    phases = r.get("phases", [])
    emb16 = next((p for p in phases if p["endpoint"] == "embeddings" and p["clients"] == 16),
                 None)
    base = r["in_process"]
    rss = r.get("rss_mb", {})
    g: dict[str, Any] = {
        "errors": sum(p["errors"] for p in phases), "5xx": sum(p["5xx"] for p in phases),
        "query_p50_ms": r.get("query_one_client", {}).get("p50_ms"),
        "query_p50_limit_ms": base["search_p50_ms"] + 3,
        "embeddings_16_ratio": r["embed_ratio"]["ratio"] if "embed_ratio" in r
        else (emb16["rps"] / base["encode_batch32_texts_per_s"] if emb16 else None),
        "rss_growth_1000": (rss["after_1000"] / rss["start"] - 1) if rss else None,
        "rss_growth_run": (rss["end"] / rss["start"] - 1) if rss else None,
    }
    g["met"] = {
        "no_errors": g["errors"] == 0 and g["5xx"] == 0,
        "query_p50": g["query_p50_ms"] is not None
        and g["query_p50_ms"] <= g["query_p50_limit_ms"],
        "embeddings_0.7x": g["embeddings_16_ratio"] is not None
        and g["embeddings_16_ratio"] >= 0.7,
        "rss_10pct_1000": g["rss_growth_1000"] is not None and g["rss_growth_1000"] <= 0.10,
    }
    peer = {k: v for k, v in r.get("peer", {}).items() if "error" not in v}
    if peer:
        # the peer's faster configuration, against Ponder measured in the same alternating block
        mode = max(peer, key=lambda k: peer[k]["peer"]["tokens_per_s"])
        block = peer[mode]
        g["peer_mode"] = mode
        g["chat_tps_ratio"] = block["ponder"]["tokens_per_s"] / block["peer"]["tokens_per_s"]
        g["chat_ttft_ratio"] = block["ponder"]["ttft_s"] / block["peer"]["ttft_s"]
        g["met"]["chat_tps_0.9x"] = g["chat_tps_ratio"] >= 0.9
        g["met"]["chat_ttft_1.1x"] = g["chat_ttft_ratio"] <= 1.1
    return g


def markdown(r: dict[str, Any]) -> str:
    m, b, g = r["machine"], r["in_process"], r["goals"]
    lines = [
        "# Serving benchmark (`bench/serve.py`)", "",
        f"{m['cpu']}, {m['cores']} cores; load average {r['load_start']} at start, "
        f"{r.get('load_end')} at end (clients run on the same CPU); {m['date']}.", "",
        f"In-process: {b['chunks']} chunks (pydoc of {len(MODULES)} modules, MiniLM); search "
        f"p50 {b['search_p50_ms']:.2f} ms (one query, embedded on the way, k=10); batched encode "
        f"{b['encode_batch32_texts_per_s']:.0f} texts/s (batches of 32; median of measures "
        "taken between the phases).", "",
        "| endpoint | clients | requests | req/s | p50 ms | p99 ms | errors | 5xx | load | "
        "RSS MB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in r.get("phases", []):
        lines.append(f"| {p['endpoint']} | {p['clients']} | {p['requests']} | {p['rps']:.1f} | "
                     f"{p['p50_ms']:.1f} | {p['p99_ms']:.1f} | {p['errors']} | {p['5xx']} | "
                     f"{p['load']} | {p['rss_mb']:.0f} |")
    q = r.get("query_one_client", {})
    rss = r.get("rss_mb", {})
    lines += ["", f"One client: query p50 {q.get('p50_ms', float('nan')):.2f} ms (goal <= "
              f"{g['query_p50_limit_ms']:.2f} ms), embeddings p50 "
              f"{r.get('embeddings_one_client', {}).get('p50_ms', float('nan')):.2f} ms.",
              f"RSS: {', '.join(f'{k} {v:.0f} MB' for k, v in rss.items())}.", ""]
    for mode, v in r.get("peer", {}).items():
        if "error" in v:
            lines.append(f"Peer ({mode}): {v['error']}")
            continue
        lines.append(f"Peer llama_cpp.server ({mode}, load {v['load']}): tokens/s "
                     f"{v['peer']['tokens_per_s']:.1f} vs Ponder {v['ponder']['tokens_per_s']:.1f};"
                     f" TTFT {v['peer']['ttft_s'] * 1000:.0f} ms vs Ponder "
                     f"{v['ponder']['ttft_s'] * 1000:.0f} ms.")
    er = r.get("embed_ratio")
    if er:
        lines += [f"Embeddings, 16 single-text clients vs in-process batches of 32, in "
                  f"{er['blocks']} alternating blocks (load {er['load']}): "
                  f"{er['server_16_per_s']:.1f} vs {er['in_process_per_s']:.1f} texts/s = "
                  f"{er['ratio']:.2f}x (goal >= 0.7x).", ""]
    if "chat_tps_ratio" in g:
        lines += [f"Chat vs the peer's faster configuration ({g['peer_mode']}), same block: "
                  f"tokens/s {g['chat_tps_ratio']:.2f}x (goal >= 0.9x), time to first token "
                  f"{g['chat_ttft_ratio']:.2f}x (goal <= 1.1x).", ""]
    lines += ["", "Goals: " + ", ".join(f"{k}: {'met' if ok else 'NOT met'}"
                                        for k, ok in g["met"].items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
