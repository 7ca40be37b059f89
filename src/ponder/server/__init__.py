"""Ponder over HTTP: ``ponder serve`` (FastAPI + uvicorn).

- OpenAI-compatible: ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
  ``/v1/models`` (the official ``openai`` client works unchanged).
- Ponder's API: ``/v1/collections`` (and their documents, records, query, map),
  ``/v1/jobs/{id}``, ``/v1/ask``, ``/v1/tasks/*``.
- ``/health``, ``/ready``, ``/metrics`` (Prometheus), the web page at ``/``, ``/docs``.

One generation at a time per model behind a bounded queue (429 when full); embedding
requests that arrive together are batched. Keys (``ponder keys``) guard everything but
``/health`` once one exists. See ``docs/serving.md``.

FastAPI is imported only by this subpackage: ``import ponder`` stays light.
"""

from __future__ import annotations

from typing import Any


def create_app(config: Any) -> Any:
    """``ponder.server.app.create_app`` (imported on first use)."""
    from ponder.server.app import create_app as build

    return build(config)


__all__ = ["create_app"]
