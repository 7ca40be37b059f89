"""A deterministic, dependency-free embedder for tests (yours and ours).

Texts that share words get similar vectors: each lower-cased word is hashed into a few
dimensions with a sign, then the vector is L2-normalised.

>>> e = HashEmbedder(dim=64)
>>> a, b, c = e.embed(["the cat sat", "the cat ran", "stock markets fell"])
>>> float(a @ b) > float(a @ c)
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ponder.embed.base import Embedder

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder(Embedder):
    normalized = True
    max_tokens = 10_000

    def __init__(self, dim: int = 64, *, model_id: str | None = None) -> None:
        self.dim = dim
        self.model_id = model_id or f"hash-{dim}"
        # the name ``load_embedder`` makes it again by: only the default settings have one
        self.name = "hash" if (dim, self.model_id) == (64, "hash-64") else ""
        self.calls = 0  # batches embedded: lets tests check that nothing is re-embedded
        self.texts_embedded = 0

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in _WORD.finditer(text)]

    def token_ids(self, text: str) -> list[int]:
        """A stable 32-bit hash of each lower-cased word (the hashing trick has no vocabulary).

        >>> e = HashEmbedder()
        >>> a, b = e.token_ids("Cat cat"); a == b
        True
        """
        return [
            int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little")
            for w in (text[s:t].lower() for s, t in self.tokenize(text))
        ]

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = hashlib.blake2b(word.encode(), digest_size=8).digest()
                for j in range(2):
                    idx = int.from_bytes(h[j * 3 : j * 3 + 3], "little") % self.dim
                    out[row, idx] += 1.0 if h[6 + j] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            if norm == 0:  # no words, or hashes that cancel: a fixed axis for this text
                h = hashlib.blake2b(text.encode(), digest_size=4).digest()
                out[row, int.from_bytes(h, "little") % self.dim] = 1.0
            else:
                out[row] /= norm
        return out
