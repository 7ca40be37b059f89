"""Ponder: a local-first toolkit for LLM applications.

>>> import ponder
>>> ponder.Collection.__name__
'Collection'

Imports are lazy: ``import ponder`` loads no model and no FAISS until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Collection": "ponder.store.collection",
    "load_settings": "ponder.config",
    "Settings": "ponder.config",
    "Embedder": "ponder.embed.base",
    "load_embedder": "ponder.embed",
    "HashEmbedder": "ponder.embed.fake",
    "Chunk": "ponder.types",
    "Hit": "ponder.types",
    "IngestReport": "ponder.types",
    "LoadedDocument": "ponder.types",
    "PonderError": "ponder.errors",
    "pipeline": "ponder.tasks",
    "ask": "ponder.rag",
    "Answer": "ponder.rag",
    "load_generator": "ponder.llm",
    "Generator": "ponder.llm.base",
    "GenerationConfig": "ponder.llm.config",
    "ScriptedGenerator": "ponder.llm.fake",
}

if TYPE_CHECKING:
    from ponder.config import Settings, load_settings
    from ponder.embed import load_embedder
    from ponder.embed.base import Embedder
    from ponder.embed.fake import HashEmbedder
    from ponder.errors import PonderError
    from ponder.llm import load_generator
    from ponder.llm.base import Generator
    from ponder.llm.config import GenerationConfig
    from ponder.llm.fake import ScriptedGenerator
    from ponder.rag import Answer, ask
    from ponder.store.collection import Collection
    from ponder.tasks import pipeline
    from ponder.types import Chunk, Hit, IngestReport, LoadedDocument



# subpackages reachable as ``ponder.NAME`` after a plain ``import ponder`` (imported on first use)
_SUBPACKAGES = frozenset({"safety", "chains", "agents", "moderate", "server", "ops", "spark",
                          "finetune", "evaluate", "rag", "tasks", "llm", "embed", "store"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        mod = importlib.import_module(f"ponder.{name}")
        globals()[name] = mod
        return mod
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "Answer",
    "Chunk",
    "Collection",
    "Embedder",
    "GenerationConfig",
    "Generator",
    "HashEmbedder",
    "Hit",
    "IngestReport",
    "LoadedDocument",
    "PonderError",
    "ScriptedGenerator",
    "Settings",
    "ask",
    "load_embedder",
    "load_generator",
    "load_settings",
    "pipeline",
]
