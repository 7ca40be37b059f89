"""The OpenAI-compatible endpoints on a real server (loopback, free port) with the fakes,
driven by the official ``openai`` client and by Ponder's own OpenAI-compatible backend."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

openai = pytest.importorskip("openai")

from ponder.embed.fake import HashEmbedder  # noqa: E402
from ponder.llm.fake import ScriptedGenerator  # noqa: E402
from ponder.server.app import create_app  # noqa: E402
from ponder.server.live import LiveServer  # noqa: E402
from ponder.server.state import ServerConfig  # noqa: E402

REPLIES = {"colour": "Blue is a calm colour.", "France": "Paris is the capital of France."}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("srv-openai")
    gen = ScriptedGenerator(REPLIES, default="I do not know.")
    app = create_app(ServerConfig(home=str(home), model=gen, embedder=HashEmbedder(dim=32)))
    with LiveServer(app) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def test_models_lists_generator_and_embedder(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list().data}
    assert {"scripted", "hash-32"} <= ids


def test_chat_completion_non_stream(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "Name a colour."}],
        temperature=0, max_tokens=32, seed=1)
    assert r.object == "chat.completion"
    assert r.choices[0].message.content == "Blue is a calm colour."
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5 and r.usage.prompt_tokens > 0


def test_chat_max_tokens_and_stop(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "capital of France?"}],
        max_tokens=2, temperature=0)
    assert r.choices[0].message.content == "Paris is"
    assert r.choices[0].finish_reason == "length"
    r = client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "capital of France?"}],
        stop=[" capital"], temperature=0)
    assert r.choices[0].message.content == "Paris is the"


def test_chat_n_gives_n_choices(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "a colour"}], n=2,
        temperature=0.7, top_p=0.9, seed=3)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content == "Blue is a calm colour." for c in r.choices)
    assert r.usage.completion_tokens == 10


def test_chat_streaming_chunks_end_with_done(client: openai.OpenAI, server: LiveServer) -> None:
    stream = client.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": "colour"}], stream=True,
        stream_options={"include_usage": True}, temperature=0)
    parts, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                parts.append(ch.delta.content)
            finish = ch.finish_reason or finish
    assert "".join(parts) == "Blue is a calm colour."
    assert finish == "stop" and usage is not None and usage.completion_tokens == 5
    raw = httpx.post(server.url + "/v1/chat/completions", json={
        "model": "scripted", "messages": [{"role": "user", "content": "colour"}],
        "stream": True}).text
    events = [e for e in raw.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    first = json.loads(events[0][len("data: "):])
    assert first["object"] == "chat.completion.chunk"
    assert first["choices"][0]["delta"]["role"] == "assistant"


def test_completions_raw_prompt(client: openai.OpenAI) -> None:
    r = client.completions.create(model="scripted", prompt="Which colour?", max_tokens=3,
                                  temperature=0)
    assert r.choices[0].text == "Blue is a"
    assert r.choices[0].finish_reason == "length"
    r = client.completions.create(model="scripted", prompt=["colour", "France"], temperature=0)
    assert [c.text for c in r.choices] == ["Blue is a calm colour.",
                                           "Paris is the capital of France."]


def test_completions_stream(client: openai.OpenAI) -> None:
    text = "".join(c.choices[0].text for c in client.completions.create(
        model="scripted", prompt="France", stream=True, temperature=0) if c.choices)
    assert text == "Paris is the capital of France."


def test_embeddings_float_and_base64_match_the_embedder(client: openai.OpenAI,
                                                       server: LiveServer) -> None:
    ref = HashEmbedder(dim=32).embed_batch(["a purring cat", "stocks fell"])
    r = client.embeddings.create(model="hash-32", input=["a purring cat", "stocks fell"])
    got = np.array([d.embedding for d in r.data], dtype=np.float32)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    assert r.usage.prompt_tokens == 5
    one = httpx.post(server.url + "/v1/embeddings", json={
        "model": "hash-32", "input": "a purring cat", "encoding_format": "base64"}).json()
    vec = np.frombuffer(base64.b64decode(one["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(vec, ref[0], atol=1e-6)


def test_unknown_model_is_404_naming_it(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}])
    assert "gpt-9" in str(e.value)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="scripted", input="x")


@pytest.mark.parametrize("body, field", [
    ({"model": "scripted", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"model": "scripted", "messages": []}, "messages"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"},
     "temperature"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "bogus": 1}, "bogus"),
    ({"model": "scripted", "messages": [{"role": "user", "content": "x"}], "max_tokens": 10**6},
     "max_tokens"),
])
def test_bad_chat_bodies_name_the_field(server: LiveServer, body: dict, field: str) -> None:
    r = httpx.post(server.url + "/v1/chat/completions", json=body)
    assert 400 <= r.status_code < 500
    err = r.json()["error"]
    assert field in err["message"]


def test_malformed_json_is_422(server: LiveServer) -> None:
    r = httpx.post(server.url + "/v1/chat/completions", content=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]["message"]


def test_oversized_body_is_413(server: LiveServer) -> None:
    big = "x" * (3 * 1024 * 1024)
    r = httpx.post(server.url + "/v1/embeddings", json={"model": "hash-32", "input": big})
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]


def test_oversized_chunked_body_is_413(server: LiveServer) -> None:
    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"model": "hash-32", "input": "'
        for _ in range(40):
            yield b"x" * 100_000
        yield b'"}'

    r = httpx.post(server.url + "/v1/embeddings", content=chunks(),
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "limit" in r.json()["error"]["message"]


def test_ponder_openai_backend_gives_the_local_text(server: LiveServer) -> None:
    from ponder.llm import load_generator

    remote = load_generator(f"openai:{server.url}/v1#scripted", fresh=True)
    local = ScriptedGenerator(REPLIES, default="I do not know.")
    for prompt in ("Name a colour", "What is the capital of France?"):
        assert remote.complete(prompt, max_new_tokens=32).text == \
            local.complete(prompt, max_new_tokens=32).text


def test_concurrent_embeddings_are_batched(server: LiveServer) -> None:
    import concurrent.futures as cf

    state = server.app.state.ponder
    before = len(state.batcher.batches)
    with httpx.Client() as c, cf.ThreadPoolExecutor(8) as pool:
        def one(i: int) -> int:
            return c.post(server.url + "/v1/embeddings",
                          json={"model": "hash-32", "input": f"text {i}"}).status_code
        codes = list(pool.map(one, range(32)))
    assert codes == [200] * 32
    sizes = state.batcher.batches[before:]
    assert sum(sizes) == 32  # every text went through the batcher (sharing is timing-dependent)


def test_home_is_untouched_by_openai_calls(server: LiveServer) -> None:
    assert not (Path(server.app.state.ponder.home) / "collections").exists()
