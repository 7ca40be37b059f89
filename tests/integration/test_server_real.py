"""The server with the real models (MiniLM embedder, SmolLM2 via llama.cpp): Ponder's own
OpenAI-compatible backend pointed at it gives the local model's greedy text; the ``openai``
client's embeddings equal the in-process ones; a query finds what in-process search finds."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from ponder.embed import load_embedder
from ponder.llm import load_generator
from ponder.server.app import create_app
from ponder.server.live import LiveServer
from ponder.server.state import ServerConfig
from ponder.store.collection import Collection

pytestmark = pytest.mark.integration
TEXTS = ["csv.DictReader reads rows of a CSV file into dictionaries keyed by the header row.",
         "json.loads parses a JSON document from a string.",
         "Owls hunt at night and fly silently."]


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    try:
        gen = load_generator("smollm2")
        gen.count_tokens("probe")
        emb = load_embedder("minilm")
        emb.embed_batch(["probe"])
    except Exception as e:  # pragma: no cover - the models are part of make test
        pytest.skip(f"real models unavailable: {e}")
    return gen, emb


@pytest.fixture(scope="module")
def server(models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    gen, emb = models
    home = tmp_path_factory.mktemp("srv-real")
    with Collection.create("kb", home=home, embedder=emb) as col:
        col.add(ids=["csv", "json", "owl"], texts=TEXTS)
    app = create_app(ServerConfig(home=str(home), model=gen, embedder=emb))
    with LiveServer(app) as srv:
        yield srv


def test_openai_backend_gives_the_local_greedy_text(models, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    gen, _ = models
    remote = load_generator(f"openai:{server.url}/v1#{gen.model_id}", fresh=True)
    prompt = "Name three primary colours."
    local = gen.complete(prompt, max_new_tokens=24).text
    assert remote.complete(prompt, max_new_tokens=24).text == local
    assert local.strip()


def test_embeddings_and_query_match_in_process(models, server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    openai = pytest.importorskip("openai")
    _, emb = models
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    got = np.array([d.embedding for d in client.embeddings.create(
        model=emb.model_id, input=TEXTS[:2]).data], dtype=np.float32)
    ref = emb.embed_batch(TEXTS[:2])
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert (cos > 0.9999).all()
    hits = httpx.post(server.url + "/v1/collections/kb/query",
                      json={"query": "how to read a CSV file with a header", "k": 3}).json()
    with Collection.open("kb", home=server.app.state.ponder.home, embedder=emb) as col:
        local = col.search("how to read a CSV file with a header", k=3)
    assert [h["id"] for h in hits["results"]] == [h.chunk.id for h in local]
    assert hits["results"][0]["id"] == "csv"
