"""Where collections live, what they may be called, and which embedder a collection uses.

>>> check_name("notes")
'notes'
>>> check_name("no spaces")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: invalid collection name 'no spaces': use 1-64 letters, ...
>>> resolve_embedder("hash").model_id, resolve_embedder(False)
('hash-64', None)
"""

from __future__ import annotations

import re
from pathlib import Path

from ponder.config import load_settings
from ponder.embed import load_embedder
from ponder.embed.base import Embedder
from ponder.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
EXTERNAL = "external"  # model id of a collection fed only precomputed embeddings


def collections_root(home: str | Path | None = None) -> Path:
    """The folder holding one sub-folder per collection (``$PONDER_HOME/collections``)."""
    return (Path(home).expanduser() if home else load_settings().home_path) / "collections"


def check_name(name: str) -> str:
    """``name`` if it is a valid collection name, else a ``ConfigError`` saying what is."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def resolve_embedder(embedder: Embedder | str | bool | None) -> Embedder | None:
    """An Embedder instance, a registry name or folder (``ponder.embed.load_embedder``), None
    (the configured default) or False (none: the collection takes precomputed vectors)."""
    if embedder is False or embedder == "none":
        return None
    if isinstance(embedder, Embedder):
        return embedder
    return load_embedder(embedder if isinstance(embedder, str) else load_settings().embedder)
