"""Export all-MiniLM-L6-v2 to ONNX once, offline, and cache the files.

The exported graph takes ``input_ids`` and ``attention_mask`` (int64, ``batch x seq``, both
dynamic) and returns ``embedding`` (``batch x 384``): BERT, mean pooling over the unmasked
tokens and L2 normalisation, exactly the sentence-transformers pipeline. The files go to
``default_cache_dir()`` (or the ``cache_dir`` you pass) under a name that carries the model
package version and the export recipe version, so a new model or recipe never reuses a stale
file. Files are written to a temporary name and renamed, so a crash or a concurrent export
never leaves a half-written model behind.

Variants:

- ``fp32``: the plain export (torch's TorchScript-based exporter; no extra package needed).
- ``int8-dynamic``: ONNX Runtime dynamic quantisation, int8 per-channel weights; activations
  are quantised on the fly (fast where the CPU has VNNI).
- ``int8-qdq``: static QDQ quantisation calibrated on stdlib documentation text, for
  OpenVINO. The attention score products and the second feed-forward projection of every
  layer stay in float: quantising those costs too much accuracy (mean cosine 0.92 to fp32).

>>> variant_path(Path("/cache"), "fp32").name.endswith("-fp32.onnx")
True
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import pydoc
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed.minilm import (
    MAX_TOKENS,
    MODEL_ID,
    load_tokenizer,
    model_dir,
    offline_guard,
    package_version,
)
from ponder.errors import BackendUnavailableError, ConfigError, ModelError

log = logging.getLogger(__name__)

EXPORT_VERSION = 1
VARIANTS = ("fp32", "int8-dynamic", "int8-qdq")
# Calibration text for static quantisation: modules *not* used by the benchmark or the tests.
_CALIBRATION_MODULES = ("string", "functools", "itertools", "datetime", "argparse")
_CALIBRATION_SAMPLES = 24


def default_cache_dir() -> Path:
    """``$PONDER_MODEL_CACHE``, else ``$XDG_CACHE_HOME/ponder/models`` (``~/.cache/...``).

    Exports are derived, re-creatable files, so they live in the cache directory, shared by
    every ``PONDER_HOME`` (a fresh home does not pay for a new export).
    """
    if os.environ.get("PONDER_MODEL_CACHE"):
        return Path(os.environ["PONDER_MODEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ponder" / "models"


def variant_path(cache_dir: Path, variant: str) -> Path:
    """Where the cached file of ``variant`` lives."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown ONNX variant {variant!r}; choose one of {list(VARIANTS)}")
    return Path(cache_dir) / f"{MODEL_ID}-{package_version()}-e{EXPORT_VERSION}-{variant}.onnx"


def ensure_onnx(variant: str = "fp32", cache_dir: Path | None = None) -> Path:
    """Path of the cached ONNX file of ``variant``, exporting or quantising it if missing."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = variant_path(cache_dir, variant)
    if path.is_file():
        return path
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(
            f"cannot create the model cache {cache_dir} ({e}); point PONDER_MODEL_CACHE "
            "at a writable folder"
        ) from e
    builder: Callable[[Path], None]
    if variant == "fp32":
        builder = _export_fp32
    else:
        source = ensure_onnx("fp32", cache_dir)
        quantize = _quantize_dynamic if variant == "int8-dynamic" else _quantize_qdq
        builder = functools.partial(quantize, source)
    log.info("building %s (%s), once, into %s", MODEL_ID, variant, cache_dir)
    with _atomic_target(path) as tmp:
        builder(tmp)
    return path


@contextlib.contextmanager
def _atomic_target(path: Path) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.onnx", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence exporter and quantiser chatter (tracer warnings, INFO logs)."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _export_fp32(target: Path) -> None:
    offline_guard()
    try:
        import torch
        from transformers import BertModel
        from transformers.utils import logging as hf_logging
    except ImportError as e:
        raise BackendUnavailableError(
            f"exporting MiniLM to ONNX needs torch and transformers ({e}); "
            "install them with `pip install torch==2.13.0 transformers`"
        ) from e

    class _Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    hf_logging.disable_progress_bar()
    # "eager" attention traces to plain ops; sdpa's mask shortcuts would be frozen by tracing.
    bert = BertModel.from_pretrained(
        str(model_dir()), attn_implementation="eager", local_files_only=True
    )
    module = _Pooled(bert).eval()
    # A padded example, so that no all-ones-mask shortcut is baked into the graph.
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long)
    mask = (ids != 0).to(torch.long)
    dyn = {0: "batch", 1: "sequence"}
    with _quiet(), torch.no_grad():
        try:
            torch.onnx.export(
                module,
                (ids, mask),
                str(target),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": dyn, "attention_mask": dyn, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        except Exception as e:  # the exporter raises many unrelated types
            raise ModelError(
                f"exporting {MODEL_ID} to ONNX failed ({type(e).__name__}: {e}); "
                "use the `minilm-torch` embedder instead"
            ) from e


def _quantize_dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def calibration_texts(n: int = _CALIBRATION_SAMPLES) -> list[str]:
    """Passages of 64 to 254 word pieces cut from stdlib documentation (offline, stable)."""

    tok = load_tokenizer()
    out: list[str] = []
    for i, name in enumerate(_CALIBRATION_MODULES):
        text = pydoc.render_doc(importlib.import_module(name), renderer=pydoc.plaintext)
        offsets = tok.encode(text, add_special_tokens=False).offsets
        pos, per_module = 0, -(-n // len(_CALIBRATION_MODULES))
        for j in range(per_module):
            length = 64 + ((i * 7 + j * 37) % (MAX_TOKENS - 2 - 64))
            if pos + length > len(offsets):
                break
            out.append(text[offsets[pos][0] : offsets[pos + length - 1][1]])
            pos += length
    return out[:n]


def _quantize_qdq(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    model = onnx.load(str(source), load_external_data=False)
    weights = {t.name for t in model.graph.initializer}
    keep_float = [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul"
        and (
            not any(i in weights for i in n.input)  # attention scores, attention x values
            or ("/output/dense/" in n.name and "/attention/" not in n.name)  # FFN out
        )
    ]
    del model
    tok = load_tokenizer()
    feeds = []
    for text in calibration_texts():
        ids = [101, *tok.encode(text, add_special_tokens=False).ids[: MAX_TOKENS - 2], 102]
        arr = np.array([ids], dtype=np.int64)
        feeds.append({"input_ids": arr, "attention_mask": np.ones_like(arr)})

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    with _quiet():
        quantize_static(
            str(source),
            str(target),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=keep_float,
        )
