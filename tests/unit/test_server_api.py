"""Ponder's own endpoints on a real server (loopback, free port) with the fakes: collections,
uploads and jobs, records, query, ask (JSON and SSE), tasks, the map, limits and bad input,
the generation queue (429 when full) and a disconnecting client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator
from ponder.server.app import create_app
from ponder.server.limits import Limits
from ponder.server.live import LiveServer
from ponder.server.state import ServerConfig

SLOW_WORDS = 400


class GatedGenerator(ScriptedGenerator):
    """Scripted replies; "BLOCK" waits for ``gate``; "SLOW" streams 400 words slowly."""

    def __init__(self) -> None:
        super().__init__(self._reply)
        self.gate = threading.Event()
        self.slow_tokens = 0

    def _reply(self, text: str) -> str:
        if "BLOCK" in text:
            self.gate.wait(30)
            return "released"
        if "SLOW" in text:
            return " ".join(["word"] * SLOW_WORDS)
        if "purr" in text:
            return "Cats purr when they are content [1]."
        return "A scripted reply."

    def _words(self, reply: str, config: Any, info: Any) -> Iterator[Any]:
        for tok in super()._words(reply, config, info):
            if reply.startswith("word word"):
                time.sleep(0.02)
                self.slow_tokens += 1
            yield tok


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("srv-api")
    gen = GatedGenerator()
    limits = Limits(queue_size=2, max_k=50, max_filter_depth=4)
    app = create_app(ServerConfig(home=str(home), model=gen, embedder=HashEmbedder(dim=64),
                                  limits=limits))
    with LiveServer(app) as server:
        server.gen = gen  # type: ignore[attr-defined]
        c = httpx.Client(base_url=server.url, timeout=30)
        assert c.post("/v1/collections", json={"name": "kb"}).status_code == 201
        r = c.post("/v1/collections/kb/add", json={
            "ids": ["cat", "tea", "stock"],
            "texts": ["Cats purr when they are content and relaxed.",
                      "Green tea is brewed at eighty degrees.",
                      "Stocks fell sharply on Monday."],
            "metadatas": [{"topic": "pets", "year": 2021}, {"topic": "food", "year": 2019},
                          {"topic": "markets", "year": 2024}]})
        assert r.status_code == 200, r.text
        c.close()
        yield server


@pytest.fixture(scope="module")
def c(srv: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        yield client


def _wait(cond: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_health_ready_metrics(c: httpx.Client) -> None:
    assert c.get("/health").json() == {"status": "ok"}
    _wait(lambda: c.get("/ready").json()["ready"])
    text = c.get("/metrics").text
    assert "ponder_requests_total" in text and "ponder_embed_batch_size" in text
    assert "ponder_generation_queue_depth" in text


def test_collections_list_info_create_drop(c: httpx.Client) -> None:
    names = [x["name"] for x in c.get("/v1/collections").json()["collections"]]
    assert "kb" in names
    info = c.get("/v1/collections/kb").json()
    assert info["chunks"] == 3 and info["model"] == "hash-64"
    assert c.post("/v1/collections", json={"name": "tmp1"}).status_code == 201
    r = c.post("/v1/collections", json={"name": "tmp1"})
    assert r.status_code == 409 and "tmp1" in r.json()["error"]["message"]
    assert c.delete("/v1/collections/tmp1").json() == {"dropped": "tmp1"}
    r = c.get("/v1/collections/tmp1")
    assert r.status_code == 404 and "tmp1" in r.json()["error"]["message"]
    r = c.post("/v1/collections", json={"name": "bad name!"})
    assert r.status_code == 422 and "name" in r.json()["error"]["message"]


def test_query_with_filter_and_plan(c: httpx.Client) -> None:
    r = c.post("/v1/collections/kb/query", json={"query": "when cats purr", "k": 2})
    assert r.status_code == 200
    assert r.json()["results"][0]["id"] == "cat"
    r = c.post("/v1/collections/kb/query", json={
        "query": "cat", "k": 3, "where": {"year": {"$gte": 2020}}, "explain": True}).json()
    assert {h["id"] for h in r["results"]} == {"cat", "stock"}
    assert r["plan"]["strategy"] and r["plan_text"]
    vec = HashEmbedder(dim=64).embed_query("Green tea")
    r = c.post("/v1/collections/kb/query", json={"embedding": vec.tolist(), "k": 1}).json()
    assert r["results"][0]["id"] == "tea"


@pytest.mark.parametrize("body, status, words", [
    ({"query": "x", "k": 500}, 400, ["k=500", "limit"]),
    ({"query": "x", "where": {"$foo": 1}}, 400, ["$foo"]),
    ({"query": "x", "where": {"$and": [{"$and": [{"$and": [{"$and": [{"a": 1}]}]}]}]}}, 400,
     ["where", "deep"]),
    ({"query": "x", "kk": 1}, 422, ["kk", "unknown field"]),
    ({"query": 5}, 422, ["query"]),
    ({}, 400, ["query"]),
])
def test_bad_queries_name_the_problem(c: httpx.Client, body: dict, status: int,
                                      words: list[str]) -> None:
    r = c.post("/v1/collections/kb/query", json=body)
    assert r.status_code == status, r.text
    msg = r.json()["error"]["message"]
    assert all(w in msg for w in words), msg


def test_unknown_collection_is_404(c: httpx.Client) -> None:
    r = c.post("/v1/collections/nope/query", json={"query": "x"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


def test_add_get_update_delete(c: httpx.Client) -> None:
    assert c.post("/v1/collections", json={"name": "crud"}).status_code == 201
    c.post("/v1/collections/crud/add", json={
        "ids": ["a", "b"], "texts": ["alpha text", "beta text"],
        "metadatas": [{"g": 1}, {"g": 2}]}).raise_for_status()
    got = c.post("/v1/collections/crud/get", json={"ids": ["b", "a"]}).json()["chunks"]
    assert [x["id"] for x in got] == ["b", "a"]
    r = c.post("/v1/collections/crud/update", json={"ids": ["a"], "metadatas": [{"h": 9}],
                                                    "merge": True})
    assert r.json() == {"updated": 1}
    got = c.post("/v1/collections/crud/get", json={"where": {"h": 9}}).json()["chunks"]
    assert [(x["id"], x["metadata"]) for x in got] == [("a", {"g": 1, "h": 9})]
    assert c.get("/v1/collections/crud/chunks/a").json()["text"] == "alpha text"
    assert c.get("/v1/collections/crud/chunks/zzz").status_code == 404
    # a bad write changes nothing
    r = c.post("/v1/collections/crud/add", json={"ids": ["c", "d"], "embeddings": [[1.0, 2.0]]})
    assert r.status_code == 400
    r = c.post("/v1/collections/crud/update", json={"ids": ["zz"], "metadatas": [{}]})
    assert r.status_code == 400 and "zz" in r.json()["error"]["message"]
    assert c.get("/v1/collections/crud").json()["chunks"] == 2
    assert c.post("/v1/collections/crud/delete", json={"where": {"g": 2}}).json() == \
        {"deleted": 1}
    assert c.get("/v1/collections/crud").json()["chunks"] == 1


def test_upload_ingest_job_then_search(c: httpx.Client) -> None:
    assert c.post("/v1/collections", json={"name": "docs"}).status_code == 201
    files = [("files", ("notes.md", b"# Owls\n\nOwls hunt at night and fly silently.",
                        "text/markdown")),
             ("files", ("more.txt", b"Herons wade in shallow water to fish.", "text/plain"))]
    r = c.post("/v1/collections/docs/documents", files=files)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    _wait(lambda: c.get(f"/v1/jobs/{job_id}").json()["status"] in ("done", "failed"))
    job = c.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "done", job
    assert job["report"]["added"] == 2 and job["progress"] == 1.0
    hits = c.post("/v1/collections/docs/query", json={"query": "owls at night", "k": 1}).json()
    assert hits["results"][0]["source"].endswith("notes.md")
    assert c.get("/v1/jobs/unknown").status_code == 404


def test_bad_uploads_are_refused_before_anything_is_written(c: httpx.Client) -> None:
    assert c.post("/v1/collections", json={"name": "up"}).status_code == 201
    r = c.post("/v1/collections/up/documents",
               files=[("files", ("evil.txt", b"\x00\x01\x02\xff binary", "text/plain"))])
    assert r.status_code == 415
    assert "evil.txt" in r.json()["error"]["message"] and "binary" in r.json()["error"]["message"]
    r = c.post("/v1/collections/up/documents",
               files=[("files", ("prog.exe", b"MZ...", "application/octet-stream"))])
    assert r.status_code == 415 and "unsupported" in r.json()["error"]["message"]
    assert c.get("/v1/collections/up").json()["chunks"] == 0
    r = c.post("/v1/collections/nope/documents",
               files=[("files", ("a.txt", b"hello", "text/plain"))])
    assert r.status_code == 404


def test_ask_json(c: httpx.Client) -> None:
    r = c.post("/v1/ask", json={"question": "Why do cats purr?", "collection": "kb", "k": 2,
                                "min_score": -1, "answer": "generative"})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["answer"].startswith("Cats purr when they are content")
    assert a["citations"][0]["chunk_id"] == "cat"
    assert "timings" in a and "unsupported" in a and "injections" in a


def test_ask_stream_tokens_then_final(c: httpx.Client) -> None:
    with c.stream("POST", "/v1/ask", json={"question": "Why do cats purr?", "collection": "kb",
                                           "stream": True, "min_score": -1,
                                           "answer": "generative"}) as r:
        assert r.status_code == 200
        raw = r.read().decode()
    events = [e for e in raw.split("\n\n") if e.strip()]
    kinds = [e.split("\n")[0] for e in events]
    assert kinds[-1] == "event: final" and kinds.count("event: final") == 1
    assert kinds[0] == "event: token"
    tokens = "".join(json.loads(e.split("data: ", 1)[1])["text"] for e in events[:-1])
    final = json.loads(events[-1].split("data: ", 1)[1])
    assert tokens.strip() == final["answer"].strip()
    assert final["citations"][0]["n"] == 1


def test_ask_bad_input(c: httpx.Client) -> None:
    r = c.post("/v1/ask", json={"question": "x", "collection": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    r = c.post("/v1/ask", json={"question": "x", "collection": "kb", "chain": "magic"})
    assert r.status_code == 422 and "chain" in r.json()["error"]["message"]


def test_tasks(c: httpx.Client) -> None:
    r = c.post("/v1/tasks/sentiment", json={"text": ["I loved it", "Awful"],
                                                 "method": "llm"}).json()
    assert r["task"] == "sentiment-analysis" and len(r["results"]) == 2
    assert all("label" in x and "score" in x for x in r["results"])
    r = c.post("/v1/tasks/classify", json={"text": "The match went to extra time",
                                           "labels": ["sports", "politics"],
                                           "method": "llm"}).json()
    assert r["results"][0]["label"] in ("sports", "politics")
    r = c.post("/v1/tasks/translate", json={"text": "Good morning", "target": "de"}).json()
    assert r["results"][0]["translation"] == "A scripted reply."
    r = c.post("/v1/tasks/summarize", json={
        "text": "Owls hunt at night. They fly silently. Herons fish by day.",
        "method": "extractive"}).json()
    assert r["results"][0]["summary"]
    r = c.post("/v1/tasks/classify", json={"text": "x", "labels": ["one"]})
    assert r.status_code == 422 and "labels" in r.json()["error"]["message"]
    r = c.post("/v1/tasks/translate", json={"text": "", "target": "de"})
    assert r.status_code == 400 and "empty" in r.json()["error"]["message"]


def test_map_points_coloured_by_metadata(c: httpx.Client) -> None:
    m = c.get("/v1/collections/kb/map", params={"color_by": "topic"}).json()
    assert m["method"] in ("pca", "umap") and m["total"] == 3
    assert sorted(p["label"] for p in m["points"]) == ["food", "markets", "pets"]


def test_web_page_is_served(c: httpx.Client) -> None:
    page = c.get("/").text
    assert "<title>Ponder</title>" in page and "/static/app.js" in page
    assert "drawMap" in c.get("/static/app.js").text


def test_full_queue_gives_429_and_health_stays_up(srv: LiveServer, c: httpx.Client) -> None:
    gen: GatedGenerator = srv.gen  # type: ignore[attr-defined]
    gen.gate.clear()
    state = srv.app.state.ponder
    body = {"model": "scripted", "messages": [{"role": "user", "content": "BLOCK"}]}
    results: list[int] = []

    def held() -> None:
        with httpx.Client(base_url=srv.url, timeout=60) as c2:
            results.append(c2.post("/v1/chat/completions", json=body).status_code)

    threads = [threading.Thread(target=held) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        _wait(lambda: state.queue.depth == 2)
        assert c.get("/health").status_code == 200  # the event loop is free
        r = c.post("/v1/chat/completions", json=body)
        assert r.status_code == 429 and r.headers["Retry-After"].isdigit()
        assert "queue is full" in r.json()["error"]["message"]
    finally:
        gen.gate.set()
        for t in threads:
            t.join(30)
    assert results == [200, 200]
    assert state.queue.depth == 0


@pytest.mark.parametrize("stream", [True, False])
def test_disconnecting_client_cancels_its_generation(srv: LiveServer, stream: bool) -> None:
    gen: GatedGenerator = srv.gen  # type: ignore[attr-defined]
    state = srv.app.state.ponder
    gen.slow_tokens = 0
    body = {"model": "scripted", "messages": [{"role": "user", "content": "SLOW"}],
            "max_tokens": SLOW_WORDS, "stream": stream}
    with httpx.Client(base_url=srv.url, timeout=httpx.Timeout(30, read=0.5)) as c2:
        if stream:
            with c2.stream("POST", "/v1/chat/completions", json=body) as r:
                assert r.status_code == 200
                next(line for line in r.iter_lines() if line.startswith("data:"))
        else:
            with pytest.raises(httpx.ReadTimeout):
                c2.post("/v1/chat/completions", json=body)
    _wait(lambda: state.queue.depth == 0)
    assert 0 < gen.slow_tokens < SLOW_WORDS
    r = httpx.post(srv.url + "/v1/chat/completions", timeout=30, json={
        "model": "scripted", "messages": [{"role": "user", "content": "hello"}]})
    assert r.json()["choices"][0]["message"]["content"] == "A scripted reply."


def test_shutdown_drains_in_flight_generation(tmp_path: Any) -> None:
    gen = GatedGenerator()
    app = create_app(ServerConfig(home=str(tmp_path), model=gen, embedder=HashEmbedder(dim=8)))
    server = LiveServer(app).start()
    state = app.state.ponder
    results: list[Any] = []

    def held() -> None:
        results.append(httpx.post(server.url + "/v1/chat/completions", timeout=60, json={
            "model": "scripted", "messages": [{"role": "user", "content": "BLOCK"}]}))

    t = threading.Thread(target=held)
    t.start()
    _wait(lambda: state.queue.depth == 1)
    server.server.should_exit = True  # what SIGTERM / Ctrl-C do
    time.sleep(0.3)
    gen.gate.set()
    t.join(30)
    server.stop()
    assert results and results[0].status_code == 200
    assert results[0].json()["choices"][0]["message"]["content"] == "released"
