"""The OpenAI-compatible backend against a tiny fake server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ponder.errors import BackendUnavailableError, ConfigError
from ponder.llm import Message
from ponder.llm.openai_compat import OpenAICompatGenerator
from ponder.testing.contracts import GeneratorContract


class _Handler(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []  # noqa: RUF012

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append((self.path, body, dict(self.headers)))
        if body.get("model") == "locked":
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b'{"error": "bad key"}')
            return
        words = ["Hello", " from", " the", " fake", " server", "."]
        limit = body.get("max_tokens", 100)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        chat = self.path.endswith("/chat/completions")
        for i, w in enumerate(words[:limit]):
            last = i == min(limit, len(words)) - 1
            reason = ("length" if limit < len(words) else "stop") if last else None
            if chat:
                choice: dict[str, Any] = {"delta": {"content": w}, "finish_reason": reason}
                if body.get("logprobs"):
                    choice["logprobs"] = {"content": [{
                        "token": w, "logprob": -0.1,
                        "top_logprobs": [{"token": w, "logprob": -0.1},
                                         {"token": " other", "logprob": -2.5}],
                    }]}
            else:
                choice = {"text": w, "finish_reason": reason}
            self.wfile.write(f"data: {json.dumps({'choices': [choice]})}\n\n".encode())
            self.wfile.flush()
        usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": limit}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that stops reading early (a test that cancels a stream) is expected."""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_chat_streams_tokens_and_reports_usage(server: str) -> None:
    g = OpenAICompatGenerator.from_spec(f"openai:{server}#tiny")
    stream = g.generate("Hi", system="Be nice.", seed=3, max_new_tokens=50)
    pieces = [t.text for t in stream]
    assert pieces == ["Hello", " from", " the", " fake", " server", "."]
    c = stream.completion()
    assert c.finish_reason == "stop" and c.prompt_tokens == 7
    path, body, _ = _Handler.requests[-1]
    assert path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "system", "content": "Be nice."},
                                {"role": "user", "content": "Hi"}]
    assert body["temperature"] == 0.0 and body["seed"] == 3 and body["stream"] is True


def test_raw_prompt_uses_completions_and_length_finish(server: str) -> None:
    g = OpenAICompatGenerator(server, "tiny")
    c = g.complete("Once upon", raw=True, max_new_tokens=3)
    assert c.text == "Hello from the" and c.finish_reason == "length"
    path, body, _ = _Handler.requests[-1]
    assert path == "/v1/completions" and body["prompt"] == "Once upon"


def test_sampling_parameters_and_stop_are_sent(server: str) -> None:
    g = OpenAICompatGenerator(server, "tiny")
    c = g.complete([Message("user", "x")], strategy="sample", temperature=0.7, top_p=0.9,
                   top_k=20, repetition_penalty=1.2, stop=[" fake"])
    assert c.text == "Hello from the"
    body = _Handler.requests[-1][1]
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.7, 0.9, 20)
    assert body["repetition_penalty"] == 1.2 and body["stop"] == [" fake"]


def test_api_key_comes_from_the_named_env_var(server: str, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("MY_TEST_KEY", "sk-123")
    OpenAICompatGenerator(server, "tiny", api_key_env="MY_TEST_KEY").complete("x")
    headers = {k.lower(): v for k, v in _Handler.requests[-1][2].items()}
    assert headers["authorization"] == "Bearer sk-123"


def test_unauthorized_names_the_env_var(server: str) -> None:
    g = OpenAICompatGenerator(server, "locked", api_key_env="SOME_KEY")
    with pytest.raises(BackendUnavailableError, match="SOME_KEY"):
        g.complete("x")


def test_explain_uses_top_logprobs(server: str) -> None:
    c = OpenAICompatGenerator(server, "tiny").complete("x", explain=True, max_new_tokens=2)
    assert c.trace is not None and len(c.trace.steps) == 2
    assert [x.text for x in c.trace.steps[0].candidates] == ["Hello", " other"]
    assert _Handler.requests[-1][1]["top_logprobs"] == 5
    assert c.tokens[0].logprob == pytest.approx(-0.1)


def test_unreachable_server_is_one_clear_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    g = OpenAICompatGenerator(f"http://127.0.0.1:{port}/v1", "tiny", timeout=5)
    with pytest.raises(BackendUnavailableError) as e:
        g.complete("x")
    msg = str(e.value)
    assert f"127.0.0.1:{port}" in msg and "start the server" in msg and "\n" not in msg


def test_beam_and_scoring_are_refused_with_a_pointer(server: str) -> None:
    g = OpenAICompatGenerator(server, "tiny")
    with pytest.raises(ConfigError, match="beam search"):
        g.generate("x", strategy="beam")
    with pytest.raises(ConfigError, match="cannot score"):
        g.logprobs("x", ["a"])
    with pytest.raises(ConfigError, match="http"):
        OpenAICompatGenerator("localhost:8000", "m")


class TestContract(GeneratorContract):
    """The client against the fake server: the promises every generator keeps."""

    @pytest.fixture
    def generator(self, server: str) -> OpenAICompatGenerator:
        return OpenAICompatGenerator(server, "tiny")
