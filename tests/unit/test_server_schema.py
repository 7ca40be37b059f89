"""Schemathesis against the running server's ``/openapi.json``: generated requests for every
operation (the documented examples, then random ones), no 5xx, every response matching its
documented schema, status code and content type. Bounded: 5 examples per operation, fixed
seed, two phases."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator
from ponder.server.app import create_app
from ponder.server.live import LiveServer
from ponder.server.state import ServerConfig

pytest.importorskip("schemathesis")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("srv-schema")
    # the fakes answer to the model names used in the documented examples
    gen = ScriptedGenerator(model_id="smollm2-135m-instruct-q4_1")
    emb = HashEmbedder(dim=16, model_id="all-MiniLM-L6-v2")
    app = create_app(ServerConfig(home=str(home), model=gen, embedder=emb))
    with LiveServer(app) as srv:
        httpx.post(srv.url + "/v1/collections", json={"name": "notes"}).raise_for_status()
        httpx.post(srv.url + "/v1/collections/notes/add", json={
            "ids": ["a", "b"], "texts": ["cats purr", "stocks fell"],
            "metadatas": [{"topic": "pets"}, {"topic": "markets"}]}).raise_for_status()
        yield srv


def _schemathesis() -> list[str]:
    exe = Path(sys.executable).with_name("schemathesis")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("schemathesis") or shutil.which("st")
    if not found:
        pytest.skip("the schemathesis command is not installed (pip install schemathesis)")
    return [found]


def test_openapi_is_complete(server: LiveServer) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    ops = [(p, m, op) for p, item in spec["paths"].items() for m, op in item.items()]
    assert len(ops) >= 24
    for path, method, op in ops:
        assert op.get("summary"), f"{method.upper()} {path} has no summary"
        assert "4XX" in op["responses"] or path == "/health", f"{method} {path}: no error schema"
    bodies = [op["requestBody"]["content"] for _, _, op in ops if "requestBody" in op]
    assert bodies and all(bodies)
    schemas = spec["components"]["schemas"]
    assert schemas["ChatRequest"].get("examples") and schemas["QueryRequest"].get("examples")
    assert httpx.get(server.url + "/docs").status_code == 200


def test_schemathesis_no_5xx_and_conforming_responses(server: LiveServer,
                                                     tmp_path: Path) -> None:
    cmd = [*_schemathesis(), "run", f"{server.url}/openapi.json",
           "--checks", "not_a_server_error,response_schema_conformance,"
                       "status_code_conformance,content_type_conformance",
           "--phases", "examples,fuzzing", "-n", "5", "--seed", "1", "--workers", "1",
           "--no-shrink", "--suppress-health-check", "all", "--request-timeout", "30"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "passed" in r.stdout
