"""Fakes for tests — yours and ours. No model, no network, deterministic.

>>> from ponder.testing import HashEmbedder
>>> HashEmbedder(dim=16).embed(["a b"]).shape
(1, 16)
"""

from __future__ import annotations

from ponder.embed.fake import HashEmbedder

__all__ = ["HashEmbedder"]
try:  # the generation layer's fake, when present
    from ponder.llm.fake import ScriptedGenerator

    __all__ += ["ScriptedGenerator"]
except ImportError:  # pragma: no cover
    pass
