"""API keys on a real server: the 401/403 matrix, collection-limited keys, revocation, and
keys never appearing in the logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator
from ponder.server.app import create_app
from ponder.server.keys import KeyStore
from ponder.server.live import LiveServer
from ponder.server.state import ServerConfig
from ponder.store.collection import Collection


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + " " + repr(record.args))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("srv-keys")
    emb = HashEmbedder(dim=16)
    for name in ("kb", "other", "victim"):
        with Collection.create(name, home=home, embedder=emb) as col:
            col.add(ids=["a"], texts=["some text"])
    store = KeyStore(home)
    keys = {
        "read_kb": store.create("read", collections=["kb"], name="reader")[0],
        "write": store.create("write", name="writer")[0],
        "admin": store.create("admin", name="boss")[0],
    }
    revoked, rec = store.create("admin", name="old")
    store.revoke(rec.id)
    keys["revoked"] = revoked
    store.close()
    app = create_app(ServerConfig(home=str(home), model=ScriptedGenerator(), embedder=emb))
    with LiveServer(app, log_level="info") as srv:
        logs = _Collect()
        for name in ("uvicorn.access", "uvicorn.error", "ponder", "ponder.server", ""):
            logging.getLogger(name).addHandler(logs)
        yield {"url": srv.url, "keys": keys, "logs": logs}
        for name in ("uvicorn.access", "uvicorn.error", "ponder", "ponder.server", ""):
            logging.getLogger(name).removeHandler(logs)


def _call(env: dict[str, Any], who: str | None, method: str, path: str,
          body: Any = None) -> httpx.Response:
    headers = {}
    if who == "wrong":
        headers["Authorization"] = "Bearer pk_not_a_key"
    elif who is not None:
        headers["Authorization"] = f"Bearer {env['keys'][who]}"
    return httpx.request(method, env["url"] + path, json=body, headers=headers, timeout=30)


CHAT = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}
CASES = [
    # who, method, path, body, expected
    (None, "GET", "/health", None, 200),
    (None, "GET", "/v1/collections", None, 401),
    (None, "GET", "/ready", None, 401),
    (None, "GET", "/metrics", None, 401),
    (None, "POST", "/v1/chat/completions", CHAT, 401),
    ("wrong", "GET", "/v1/collections", None, 401),
    ("revoked", "GET", "/v1/models", None, 401),
    ("read_kb", "GET", "/v1/collections/kb", None, 200),
    ("read_kb", "GET", "/v1/collections/other", None, 403),
    ("read_kb", "POST", "/v1/collections/kb/query", {"query": "text"}, 200),
    ("read_kb", "POST", "/v1/collections/other/query", {"query": "text"}, 403),
    ("read_kb", "POST", "/v1/collections/kb/add", {"ids": ["b"], "texts": ["x"]}, 403),
    ("read_kb", "POST", "/v1/collections", {"name": "newone"}, 403),
    ("read_kb", "POST", "/v1/chat/completions", CHAT, 200),
    ("read_kb", "POST", "/v1/ask", {"question": "q", "collection": "other"}, 403),
    ("read_kb", "DELETE", "/v1/collections/kb", None, 403),
    ("write", "POST", "/v1/collections/other/add", {"ids": ["b"], "texts": ["x y"]}, 200),
    ("write", "POST", "/v1/collections", {"name": "made"}, 201),
    ("write", "DELETE", "/v1/collections/victim", None, 403),
    ("admin", "DELETE", "/v1/collections/victim", None, 200),
    ("admin", "GET", "/metrics", None, 200),
]


@pytest.mark.parametrize("who, method, path, body, expected", CASES)
def test_key_matrix(env: dict[str, Any], who: str | None, method: str, path: str, body: Any,
                    expected: int) -> None:
    r = _call(env, who, method, path, body)
    assert r.status_code == expected, r.text
    if expected in (401, 403):
        err = r.json()["error"]
        assert err["code"] == expected and err["message"]
    if expected == 401:
        assert r.headers.get("WWW-Authenticate") == "Bearer"


def test_limited_key_lists_only_its_collections(env: dict[str, Any]) -> None:
    names = [c["name"] for c in _call(env, "read_kb", "GET", "/v1/collections").json()[
        "collections"]]
    assert names == ["kb"]


def test_keys_never_appear_in_logs(env: dict[str, Any]) -> None:
    for who in ("read_kb", "write", "admin", "revoked"):
        _call(env, who, "GET", "/v1/collections")
    lines = env["logs"].lines
    assert any("/v1/collections" in line for line in lines)  # access lines were logged
    for key in env["keys"].values():
        assert not any(key in line for line in lines)
