"""``ponder serve``: Ponder over HTTP (OpenAI-compatible endpoints, the collection API, ask,
tasks, a web page at ``/``). See ``docs/serving.md``."""

from __future__ import annotations

import ipaddress
from typing import Any

import typer

from ponder.cli.common import console_err, settings
from ponder.errors import ConfigError

_MODEL_HELP = "Model: smollm2 (default), PATH.gguf, a Hugging Face folder, openai:URL#model, fake."


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, has_keys: bool, insecure: bool) -> None:
    """Refuse to listen beyond loopback with no keys, unless ``insecure``."""
    if is_loopback(host) or has_keys or insecure:
        return
    raise ConfigError(
        f"--host {host} would expose the server beyond this machine with no API key: create one "
        "with `ponder keys create --scope read` first, or pass --insecure to serve it open"
    )


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(8000, "--port", "-p", help="Port."),
    model: str | None = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    embedder: str | None = typer.Option(
        None, "--embedder", "-e", help="Embedder: minilm (default), hash, minilm-onnx, ..."),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback --host without any API key."),
    queue_size: int = typer.Option(
        8, "--queue-size", help="Generations running or waiting before 429."),
    timeout: float = typer.Option(300.0, "--timeout", help="Request time limit, seconds."),
    mlflow_model: str | None = typer.Option(
        None, "--mlflow-model",
        help="A registered RAG model (models:/NAME@champion): /v1/ask on its collection uses it.",
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log",
                                    help="Log one line per request (never the key)."),
) -> None:
    """Serve Ponder over HTTP until Ctrl-C or SIGTERM (in-flight requests finish first)."""
    from ponder.server.keys import KeyStore
    from ponder.server.limits import Limits
    from ponder.server.state import ServerConfig

    s = settings()
    if not 0 < port < 65536:
        raise ConfigError(f"--port {port} is not a TCP port: use 1-65535, e.g. 8000")
    if queue_size < 1:
        raise ConfigError(f"--queue-size {queue_size}: use at least 1")
    keys = KeyStore(s.home)
    check_bind(host, keys.any_keys(), insecure)
    keys.close()
    import uvicorn

    from ponder.server.app import create_app

    config = ServerConfig(home=s.home, model=model or s.model, embedder=embedder or s.embedder,
                          limits=Limits(queue_size=queue_size, request_timeout=timeout),
                          mlflow_model=mlflow_model)
    app = create_app(config)
    console_err.print(f"Ponder serving {s.home} on http://{host}:{port}/ "
                      f"(model {config.model}, embedder {config.embedder}); Ctrl-C stops it")
    server = _draining_server(uvicorn.Config(
        app, host=host, port=port, log_level="info", access_log=access_log,
        timeout_graceful_shutdown=30, server_header=False))
    server.run()
    console_err.print("stopped: in-flight requests finished")


def _draining_server_class() -> type:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server, but Ctrl-C / SIGTERM end with exit status 0 once requests in
        flight have finished (uvicorn re-raises the signal after its graceful shutdown)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    return DrainingServer


def _draining_server(config: Any) -> Any:
    return _draining_server_class()(config)


def register(app: typer.Typer) -> None:
    app.command(name="serve")(serve)
