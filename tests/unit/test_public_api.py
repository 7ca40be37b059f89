"""Pins the public API: a change here is a change users see."""

from __future__ import annotations

import subprocess
import sys

import ponder
import ponder.errors as errors


def test_public_names_are_stable():
    assert sorted(ponder.__all__) == sorted(ponder._EXPORTS)
    for name in ponder.__all__:
        assert getattr(ponder, name) is not None


def test_import_is_cheap():
    code = "import ponder, sys; print('faiss' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_every_error_is_a_ponder_error_and_listed():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.PonderError)
        assert name in errors.__doc__, f"{name} missing from the tree in ponder.errors' docstring"


def test_collection_api_shape():
    c = ponder.Collection
    for method in (
        "create",
        "open",
        "get_or_create",
        "add",
        "ingest",
        "search",
        "get",
        "update",
        "delete",
        "count",
        "info",
        "keyword_search",
    ):
        assert callable(getattr(c, method)), method


def test_subpackages_reachable_from_plain_import():
    assert sorted(ponder._SUBPACKAGES) == [
        "agents", "chains", "embed", "evaluate", "finetune", "llm", "moderate", "ops", "rag",
        "safety", "server", "spark", "store", "tasks",
    ]
    assert callable(ponder.safety.toxicity)
    assert callable(ponder.rag.ask)
