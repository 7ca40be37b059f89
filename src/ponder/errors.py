"""Every error Ponder raises, in one tree.

Catch ``PonderError`` to handle them all. Each message names the problem and the fix.

::

    PonderError
    ├── ConfigError                 bad setting, unknown option, invalid parameter
    │   └── FilterError             invalid ``where`` filter (names the operator or field)
    ├── InputError                  a file, row or text that cannot be used
    │   ├── LoaderError             a file that cannot be read or parsed (skipped in folders)
    │   └── ContextLengthError      a prompt longer than the model's window
    ├── CollectionError             collections on disk
    │   ├── CollectionNotFoundError
    │   ├── CollectionExistsError
    │   ├── CollectionLockedError   another process holds the write lock
    │   ├── CollectionClosedError   a collection used after its ``with`` block closed it
    │   └── EmbeddingMismatchError  wrong dimension, or another embedding model
    ├── VectorIndexError            a vector index that cannot be built, loaded or used
    ├── ModelError                  models and backends
    │   ├── ModelNotFoundError      a missing model file or folder
    │   └── BackendUnavailableError an unreachable server or a missing optional package
    └── GenerationError             a generation that failed mid-way
"""

from __future__ import annotations


class PonderError(Exception):
    """Base of every error Ponder raises on purpose."""


class ConfigError(PonderError, ValueError):
    """A setting, option or parameter is invalid."""


class FilterError(ConfigError):
    """A ``where`` filter is invalid; the message names the bad operator or field."""


class InputError(PonderError, ValueError):
    """Input (a file, a row, a text) cannot be used as given."""


class LoaderError(InputError):
    """A file could not be read or parsed. Folder ingests report it and go on."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class ContextLengthError(InputError):
    """A prompt does not fit the model's context window."""


class CollectionError(PonderError):
    """A problem with a collection on disk."""


class CollectionNotFoundError(CollectionError, LookupError):
    """No collection of that name exists."""


class CollectionExistsError(CollectionError):
    """A collection of that name already exists."""


class CollectionLockedError(CollectionError):
    """Another process is writing the collection."""


class CollectionClosedError(CollectionError):
    """A collection was used after ``close()`` (or after its ``with`` block ended)."""


class EmbeddingMismatchError(CollectionError, ValueError):
    """Embeddings of the wrong dimension, or a collection made with another model."""


class VectorIndexError(PonderError):
    """A vector index could not be built, loaded or used."""


class ModelError(PonderError):
    """A model or backend problem."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model file or folder is missing."""


class BackendUnavailableError(ModelError):
    """A backend cannot be reached or its optional package is missing."""


class GenerationError(PonderError):
    """Generation failed part-way."""


__all__ = [
    "BackendUnavailableError",
    "CollectionClosedError",
    "CollectionError",
    "CollectionExistsError",
    "CollectionLockedError",
    "CollectionNotFoundError",
    "ConfigError",
    "ContextLengthError",
    "EmbeddingMismatchError",
    "FilterError",
    "GenerationError",
    "InputError",
    "LoaderError",
    "ModelError",
    "ModelNotFoundError",
    "PonderError",
    "VectorIndexError",
]
