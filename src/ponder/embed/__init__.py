"""Embedders: pick one by name with ``load_embedder``.

========================  ==================================================================
name                      backend
========================  ==================================================================
``minilm`` (default)      the fastest measured backend below that is usable here (see
                          ``default_backend``): OpenVINO bf16 where it runs, else ONNX fp32
``minilm-torch``          sentence-transformers on torch fp32 (the reference)
``minilm-onnx``           ONNX Runtime fp32, full graph optimisation
``minilm-onnx-int8``      ONNX Runtime, int8 per-channel weights (dynamic quantisation)
``minilm-openvino``       OpenVINO fp32 (optional package ``openvino``)
``minilm-openvino-bf16``  OpenVINO bf16 (``openvino`` and a CPU with native bf16)
``minilm-openvino-int8``  OpenVINO on a statically quantised int8 export (``openvino``)
``hash``                  ``HashEmbedder``: deterministic, no model (tests, demos); ``dim=64``
``smollm2-hidden``        features for classifier heads: SmolLM2-135M's mean hidden state after
                          layer 15 (transformers; not for collections)
``path/to/folder``        a fine-tuned MiniLM folder (``ponder finetune embedder --out``)
========================  ==================================================================

The fp32 and bf16 backends share ``model_id = "all-MiniLM-L6-v2"``: each measured a mean
cosine >= 0.99 (in fact >= 0.9999) to the torch reference (``bench/embedders.py``), so a
collection may switch between them without re-embedding. The two int8 backends sit right at
the bar (0.99 mean, 0.96 on one-word texts), so each has its own ``model_id``.

Constructing an embedder is cheap; the first ``embed_batch`` loads the model (and, the
first time ever, exports it to ONNX under ``~/.cache/ponder/models``, or
``$PONDER_MODEL_CACHE``). Loaded models are shared by the embedders of one process.
Threads default to ``load_settings().threads``.

>>> e = load_embedder("hash", dim=16)
>>> e.model_id, e.embed(["a b", "c"]).shape
('hash-16', (2, 16))
>>> load_embedder("minilm-onnx").model_id
'all-MiniLM-L6-v2'
>>> load_embedder("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: unknown embedder 'nope'; choose one of ['hash', 'minilm', ...
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from typing import Any

from ponder.config import load_settings
from ponder.embed.base import Embedder
from ponder.embed.fake import HashEmbedder
from ponder.embed.llm_hidden import LLMHiddenStates
from ponder.embed.minilm import MiniLMEmbedder, TorchMiniLM
from ponder.embed.minilm_onnx import OnnxInt8MiniLM, OnnxMiniLM
from ponder.embed.minilm_openvino import (
    OpenVINOBf16MiniLM,
    OpenVINOInt8MiniLM,
    OpenVINOMiniLM,
    cpu_has_native_bf16,
)
from ponder.errors import ConfigError

_BACKENDS: dict[str, type[Embedder]] = {
    "hash": HashEmbedder,
    "minilm-torch": TorchMiniLM,
    "minilm-onnx": OnnxMiniLM,
    "minilm-onnx-int8": OnnxInt8MiniLM,
    "minilm-openvino": OpenVINOMiniLM,
    "minilm-openvino-bf16": OpenVINOBf16MiniLM,
    "minilm-openvino-int8": OpenVINOInt8MiniLM,
    "smollm2-hidden": LLMHiddenStates,
}
DEFAULT = "minilm"
# Fastest first, as measured by bench/embedders.py (see bench/results/embedders.json).
_DEFAULT_ORDER = ("minilm-openvino-bf16", "minilm-onnx")


def known_embedders() -> list[str]:
    """Every name ``load_embedder`` accepts, usable here or not."""
    return sorted([DEFAULT, *_BACKENDS])


def _usable(name: str) -> bool:
    if name.startswith("minilm-openvino"):
        if importlib.util.find_spec("openvino") is None:
            return False
        return name != "minilm-openvino-bf16" or cpu_has_native_bf16()
    if name.startswith("minilm-onnx"):
        return importlib.util.find_spec("onnxruntime") is not None
    return True


def available_embedders() -> list[str]:
    """Names whose optional packages (and CPU features) are present here.

    >>> {"hash", "minilm", "minilm-torch", "minilm-onnx"} <= set(available_embedders())
    True
    """
    return sorted([DEFAULT, *(n for n in _BACKENDS if _usable(n))])


def default_backend() -> str:
    """The backend ``minilm`` stands for here: the first usable one of the measured order."""
    for name in _DEFAULT_ORDER:
        if _usable(name):
            return name
    return "minilm-torch"


def _is_folder_spec(name: str) -> bool:
    """A path to a sentence-transformers folder (``modules.json``), e.g. a fine-tuned MiniLM."""
    if name.lower() in _BACKENDS or name.lower() == DEFAULT:
        return False
    return (Path(name).expanduser() / "modules.json").is_file()


def load_embedder(name: str | None = None, **kwargs: Any) -> Embedder:
    """The embedder called ``name`` (default: ``load_settings().embedder``, then ``minilm``).

    ``kwargs`` go to its constructor: ``threads``, ``batch_size`` and ``cache_dir`` for the
    MiniLM backends, ``dim`` and ``model_id`` for ``hash``. A MiniLM embedder's ``backend``
    says which backend runs; its ``name`` is what was asked for (``minilm`` for the default).

    >>> e = load_embedder("minilm")
    >>> e.name, e.backend == default_backend()
    ('minilm', True)
    """
    raw = (name or load_settings().embedder or DEFAULT).strip()
    if _is_folder_spec(raw):  # a fine-tuned model folder (``ponder finetune embedder``)
        from ponder.finetune.embedder import FolderEmbedder

        return FolderEmbedder(raw, **kwargs)
    requested = raw.lower()
    name = default_backend() if requested == DEFAULT else requested
    cls = _BACKENDS.get(name)
    if cls is None:
        raise ConfigError(
            f"unknown embedder {name!r}; choose one of {known_embedders()} "
            "(set it with --embedder or PONDER_EMBEDDER)"
        )
    params = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name not in ("self", "name")
        and (p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(kwargs) - set(params))
    if unknown:
        raise ConfigError(f"embedder {name!r} takes no option(s) {unknown}; it takes {params}")
    if requested == DEFAULT and issubclass(cls, MiniLMEmbedder):
        # recorded as "minilm", not this machine's backend: another machine may pick another
        return cls(**kwargs, name=DEFAULT)
    return cls(**kwargs)


__all__ = [
    "Embedder",
    "HashEmbedder",
    "MiniLMEmbedder",
    "available_embedders",
    "default_backend",
    "known_embedders",
    "load_embedder",
]
