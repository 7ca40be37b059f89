"""Any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, LM Studio, OpenAI itself).

Spec: ``openai:http://host:port/v1#model-name``. The API key is read from the environment
variable named by ``api_key_env`` (default ``OPENAI_API_KEY``; local servers usually need
none); it is never stored. Chat prompts go to ``/chat/completions`` (the server applies the
model's chat template), raw prompts to ``/completions``; both stream over server-sent events.

Greedy is ``temperature=0``; ``top_k`` and ``repetition_penalty`` are sent as the extra
fields vLLM and llama.cpp's server accept (others ignore them). Beam search and continuation
scoring are not part of the API: they raise a ``ConfigError`` naming a local model instead.
A ``json_schema`` is sent as
``response_format`` (``{"type": "json_schema", ...}``), a GBNF ``grammar`` as the ``grammar``
(llama.cpp's server) and ``guided_grammar`` (vLLM) fields. With ``explain`` the server is asked
for ``top_logprobs``; servers that do not return them
leave the trace empty with a note.

>>> g = OpenAICompatGenerator.from_spec("openai:http://127.0.0.1:8000/v1#qwen")
>>> g.base_url, g.model
('http://127.0.0.1:8000/v1', 'qwen')
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

from ponder.errors import BackendUnavailableError, ConfigError, GenerationError
from ponder.llm.base import Generator, Message, StreamInfo, Token
from ponder.llm.config import GenerationConfig
from ponder.llm.explain import Candidate, StepTrace


class OpenAICompatGenerator(Generator):
    """A model behind an OpenAI-compatible HTTP API (``httpx``, streaming)."""

    supports_logprobs = False
    supports_beam = False
    supports_explain = True
    supports_grammar = True

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 120.0,
        context_window: int = 0,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"server URL {base_url!r} must start with http:// or https:// "
                "(e.g. openai:http://127.0.0.1:8000/v1#model)"
            )
        if not model:
            raise ConfigError(
                "no model name: add it after '#', e.g. openai:http://127.0.0.1:8000/v1#llama3"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.model_id = f"openai:{model}"
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.context_window = context_window

    @classmethod
    def from_spec(cls, spec: str, **kwargs: Any) -> OpenAICompatGenerator:
        """Parse ``openai:URL#model``."""
        rest = spec.split(":", 1)[1] if ":" in spec else ""
        url, _, model = rest.partition("#")
        return cls(url.strip(), model.strip(), **kwargs)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _payload(
        self, prompt: str | list[Message], config: GenerationConfig, top_logprobs: int
    ) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": config.max_new_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if config.samples:
            body.update(temperature=config.temperature, top_p=config.top_p)
            if config.top_k:
                body["top_k"] = config.top_k
        else:
            body["temperature"] = 0.0
        if config.seed is not None:
            body["seed"] = config.seed
        if config.stop:
            body["stop"] = list(config.stop)[:4]
        if config.repetition_penalty != 1.0:
            body["repetition_penalty"] = config.repetition_penalty
        if config.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": config.json_schema, "strict": True},
            }
        if config.grammar is not None:
            body["grammar"] = config.grammar  # llama.cpp's server
            body["guided_grammar"] = config.grammar  # vLLM
        if isinstance(prompt, str):
            body["prompt"] = prompt
            if top_logprobs:
                body["logprobs"] = top_logprobs
            return "/completions", body
        body["messages"] = [m.to_dict() for m in prompt]
        if top_logprobs:
            body.update(logprobs=True, top_logprobs=top_logprobs)
        return "/chat/completions", body

    def _stream(
        self, prompt: str | list[Message], config: GenerationConfig, info: StreamInfo
    ) -> Iterator[Token]:
        top = min(info.trace.top_n, 20) if info.trace is not None else 0
        path, body = self._payload(prompt, config, top)
        return self._events(self.base_url + path, body, info)

    def _events(self, url: str, body: dict[str, Any], info: StreamInfo) -> Iterator[Token]:
        import httpx

        try:
            with (
                httpx.Client(timeout=self.timeout) as client,
                client.stream("POST", url, json=body, headers=self._headers()) as resp,
            ):
                if resp.status_code >= 400:
                    resp.read()
                    raise self._http_error(url, resp.status_code, resp.text)
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        event = json.loads(data)
                    except json.JSONDecodeError as e:
                        raise GenerationError(f"{url} sent a malformed event: {data[:80]!r}") from e
                    yield from self._tokens(event, info)
        except httpx.ConnectError as e:
            raise BackendUnavailableError(
                f"cannot reach the model server at {self.base_url} ({e}): start the server or "
                "fix the URL in --model openai:URL#model"
            ) from e
        except httpx.TimeoutException as e:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} did not answer within {self.timeout:.0f}s:"
                " check that it is running and not overloaded"
            ) from e
        if info.finish_reason is None:
            info.finish_reason = "stop"
        if info.trace is not None and not info.trace.steps:
            info.trace.note = f"{self.base_url} returned no log-probabilities to explain"

    def chat_with_tools(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], **overrides: Any
    ) -> tuple[str, list[dict[str, str]]]:
        """One non-streamed chat turn with native tool calling: ``(content, tool_calls)``,
        each call ``{"id", "name", "arguments"}`` (arguments as the JSON text sent)."""
        import httpx

        config = self.resolve_config(None, **overrides)
        body: dict[str, Any] = {"model": self.model, "messages": messages,
                                "max_tokens": config.max_new_tokens,
                                "temperature": config.temperature if config.samples else 0.0}
        if tools:
            body["tools"] = tools
        url = self.base_url + "/chat/completions"
        headers = {**self._headers(), "Accept": "application/json"}
        try:
            resp = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
        except httpx.ConnectError as e:
            raise BackendUnavailableError(
                f"cannot reach the model server at {self.base_url} ({e}): start the server or "
                "fix the URL in --model openai:URL#model"
            ) from e
        except httpx.TimeoutException as e:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} did not answer within {self.timeout:.0f}s"
            ) from e
        if resp.status_code >= 400:
            raise self._http_error(url, resp.status_code, resp.text)
        try:
            msg = resp.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise GenerationError(f"{url} sent an unexpected reply ({e}): {resp.text[:120]!r}"
                                  ) from None
        calls = []
        for i, c in enumerate(msg.get("tool_calls") or []):
            fn = c.get("function") or {}
            args = fn.get("arguments", "{}")
            calls.append({"id": str(c.get("id") or f"call_{i}"), "name": str(fn.get("name", "")),
                          "arguments": args if isinstance(args, str) else json.dumps(args)})
        return str(msg.get("content") or ""), calls

    def _http_error(self, url: str, status: int, text: str) -> Exception:
        detail = text.strip().replace("\n", " ")[:200]
        if status in (401, 403):
            return BackendUnavailableError(
                f"{url} refused the request ({status} {detail}): put the API key in the "
                f"environment variable {self.api_key_env} (or name another with --api-key-env)"
            )
        if status == 404:
            return BackendUnavailableError(
                f"{url} answered 404 ({detail}): check the base URL (it usually ends in /v1) "
                f"and the model name {self.model!r}"
            )
        return GenerationError(f"{url} answered {status}: {detail}")

    def _tokens(self, event: dict[str, Any], info: StreamInfo) -> Iterator[Token]:
        usage = event.get("usage") or {}
        if usage.get("prompt_tokens"):
            info.prompt_tokens = int(usage["prompt_tokens"])
        for choice in event.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text is None:
                text = choice.get("text")
            lps = _logprob_entries(choice.get("logprobs"))
            if text:
                lp = lps[0].get("logprob") if len(lps) == 1 else None
                yield Token(text, None, float(lp) if lp is not None else None)
            if info.trace is not None:
                for entry in lps:
                    self._record(entry, info)
            reason = choice.get("finish_reason")
            if reason:
                info.finish_reason = "length" if reason == "length" else "stop"

    def _record(self, entry: dict[str, Any], info: StreamInfo) -> None:
        assert info.trace is not None
        top = entry.get("top_logprobs") or []
        if isinstance(top, dict):  # legacy /completions format: {token: logprob}
            top = [{"token": k, "logprob": v} for k, v in top.items()]
        cands = [Candidate(-1, str(t.get("token", "")), math.exp(float(t.get("logprob", -1e9))))
                 for t in top]
        chosen = Candidate(-1, str(entry.get("token", "")),
                           math.exp(float(entry.get("logprob", -1e9))))
        info.trace.steps.append(StepTrace(len(info.trace.steps), cands or [chosen], chosen))


def _logprob_entries(logprobs: Any) -> list[dict[str, Any]]:
    """Normalise chat (``{"content": [...]}``) and legacy completions log-probabilities."""
    if not logprobs:
        return []
    if isinstance(logprobs, dict) and isinstance(logprobs.get("content"), list):
        return list(logprobs["content"])
    if isinstance(logprobs, dict) and "tokens" in logprobs:
        toks = logprobs.get("tokens") or []
        lps = logprobs.get("token_logprobs") or []
        tops = logprobs.get("top_logprobs") or [None] * len(toks)
        return [
            {"token": t, "logprob": lp, "top_logprobs": top}
            for t, lp, top in zip(toks, lps, tops, strict=False)
        ]
    return []


__all__ = ["OpenAICompatGenerator"]
