"""Fixtures shared by the integration tests (the real embedded models)."""

from __future__ import annotations

import pytest

from ponder.llm import Generator, load_generator


@pytest.fixture(scope="module")
def gen() -> Generator:
    """The default generator (SmolLM2-135M via llama.cpp); cached per process by
    ``load_generator``. A module may define its own ``gen`` to use another backend."""
    try:
        g = load_generator("smollm2")
        g.count_tokens("probe")
    except Exception as e:  # pragma: no cover - the model package is part of make test
        pytest.skip(f"default model unavailable: {e}")
    return g
