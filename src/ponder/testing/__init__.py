"""Fakes for tests — yours and ours. No model, no network, deterministic.

- ``HashEmbedder``: texts that share words get similar vectors.
- ``ScriptedGenerator``: replies from a script, streamed word by word.
- ``ToyLanguageModel``: a bigram model that runs through the real decoding code.

Contract suites for your own backends are in ``ponder.testing.contracts`` (that module
imports pytest; this one does not).

>>> from ponder.testing import HashEmbedder
>>> HashEmbedder(dim=16).embed(["a b"]).shape
(1, 16)
"""

from __future__ import annotations

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator, ToyLanguageModel

__all__ = ["HashEmbedder", "ScriptedGenerator", "ToyLanguageModel"]
