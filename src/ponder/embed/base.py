"""The one extension point for embeddings: subclass ``Embedder`` and implement ``embed_batch``.

>>> from ponder.embed.fake import HashEmbedder
>>> e = HashEmbedder(dim=8)
>>> e.embed(["hello world"]).shape
(1, 8)
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np


class Embedder(ABC):
    """Turns texts into float32 vectors.

    Capabilities are class or instance attributes:

    - ``name``: the name ``load_embedder`` makes it again by, recorded in a collection's
      settings (empty for an embedder that ``load_embedder`` does not know: such a
      collection needs the instance passed again when it is opened).
    - ``model_id``: a stable name stored with every vector; a collection refuses vectors of
      another ``model_id``.
    - ``dim``: vector length.
    - ``normalized``: True when ``embed_batch`` returns unit-length vectors.
    - ``max_tokens``: the longest input the model reads (longer input is truncated).
    - ``batch_size``: how many texts ``embed`` hands to ``embed_batch`` at a time.

    Constructors must be cheap: load models lazily, on the first ``embed_batch``.
    """

    name: str = ""
    model_id: str = ""
    dim: int = 0
    normalized: bool = False
    max_tokens: int = 512
    batch_size: int = 32
    query_prefix: str = ""
    passage_prefix: str = ""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; return a ``(len(texts), dim)`` float32 array."""

    def count_tokens(self, text: str) -> int:
        """Tokens the model's tokenizer makes of ``text`` (whitespace words if unknown)."""
        return len(text.split())

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text`` (whitespace words if unknown)."""

        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]

    def token_ids(self, text: str) -> list[int]:
        """Vocabulary ids of the model's tokens in ``text``, one per ``tokenize`` span.

        Embedders without a vocabulary raise ``NotImplementedError``.
        """
        raise NotImplementedError(f"{type(self).__name__} has no token vocabulary")

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed passages in batches of ``batch_size``; ``progress(n)`` after each batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = [self.passage_prefix + t for t in texts[i : i + self.batch_size]]
            vecs = np.asarray(self.embed_batch(batch), dtype=np.float32)
            out.append(vecs)
            if progress:
                progress(len(batch))
        return np.vstack(out)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query (some models prefix queries differently)."""
        return np.asarray(self.embed_batch([self.query_prefix + text]), dtype=np.float32)[0]
