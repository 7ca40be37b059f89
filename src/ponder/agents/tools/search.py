"""Search a collection: the best passages for a query (hybrid retrieval)."""

from __future__ import annotations

from typing import Any

from ponder.agents.tools.base import Tool
from ponder.rag.retrieve import retrieve


class SearchTool(Tool):
    """``search:COLLECTION``: the ``k`` best passages, each cut to ``chars`` characters."""

    name = "search"
    example = "how to read a CSV file"

    def __init__(self, collection: str, *, k: int = 3, chars: int = 300,
                 home: str | None = None, mode: str = "hybrid") -> None:
        self.collection = collection
        self.k = k
        self.chars = chars
        self.home = home
        self.mode = mode
        self.description = f"searches the document collection {collection!r} for passages"
        self._col: Any = None

    def run(self, text: str) -> str:
        from ponder.store.collection import Collection

        if self._col is None:
            self._col = Collection.open(self.collection, home=self.home)
        hits = retrieve(self._col, text, mode=self.mode, k=self.k)
        if not hits:
            return "no passage found"
        out = []
        for i, h in enumerate(hits, 1):
            t = " ".join(h.chunk.text.split())
            out.append(f"[{i}] {t[: self.chars]}")
        return "\n".join(out)


__all__ = ["SearchTool"]
