"""Retrieval-augmented question answering: ``ask`` a collection, get an ``Answer`` with checked
citations.

>>> from ponder.rag import ask, Answer, RetrievalConfig
>>> RetrievalConfig().mode, Answer.__name__
('hybrid', 'Answer')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ponder.rag.answer import Answer, Citation, SentenceSupport
from ponder.rag.ask import AskConfig, answer_from_hits, ask, closed_book
from ponder.rag.chains import CHAINS, register_chain, unregister_chain

if TYPE_CHECKING:
    from ponder.rag.retrieve import RetrievalConfig, retrieve

_LAZY = {"retrieve": "ponder.rag.retrieve", "RetrievalConfig": "ponder.rag.retrieve"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder.rag' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "CHAINS",
    "Answer",
    "AskConfig",
    "Citation",
    "RetrievalConfig",
    "SentenceSupport",
    "answer_from_hits",
    "ask",
    "closed_book",
    "register_chain",
    "retrieve",
    "unregister_chain",
]
