"""all-MiniLM-L6-v2 on OpenVINO (``minilm-openvino``, ``-bf16``, ``-int8``).

OpenVINO is optional (the ``bench`` extra): it is imported on first use, and a missing package
raises ``BackendUnavailableError`` naming the fix. The backends read the ONNX export of
``onnx_export`` and compile it for the CPU:

- ``minilm-openvino``: fp32 (the precision hint is pinned to f32; OpenVINO would otherwise
  pick bf16 on its own on CPUs that have it).
- ``minilm-openvino-bf16``: bf16 matrix products, only on CPUs with native bf16 (AMX or
  AVX512-BF16); elsewhere it refuses rather than emulate slowly.
- ``minilm-openvino-int8``: the statically quantised QDQ export (int8 weights and activations
  on most matrix products, float elsewhere); below the 0.99 cosine bar, so it has its own
  ``model_id``.

Batches are padded to a multiple of 16 tokens: OpenVINO prepares kernels per input shape,
and fewer distinct shapes measured faster on a quiet CPU (bf16: 76 vs 55 passages/s at ~200
tokens; within the noise when the CPU is busy).

>>> e = OpenVINOMiniLM()      # cheap: openvino is not even imported yet
>>> e.name, e.precision
('minilm-openvino', 'f32')
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed.minilm import MODEL_ID, MiniLMEmbedder, pad_batch
from ponder.embed.onnx_export import ensure_onnx
from ponder.errors import BackendUnavailableError

_INSTALL = "install it with `pip install openvino` (or `pip install 'ponder[bench]'`)"


def _import_openvino() -> Any:
    try:
        import openvino
    except ImportError:
        raise BackendUnavailableError(
            f"the OpenVINO embedders need the optional package openvino; {_INSTALL}, "
            "or use `minilm-onnx`"
        ) from None
    return openvino


@functools.cache
def _core() -> Any:
    return _import_openvino().Core()


# Compiled models are shared per process; each embedder makes its own infer request.
_COMPILED: dict[tuple[str, str, int], Any] = {}
_LOCK = threading.Lock()


def _compiled(path: Path, precision: str, threads: int) -> Any:
    key = (str(path), precision, threads)
    with _LOCK:
        if key not in _COMPILED:
            _COMPILED[key] = _core().compile_model(
                str(path),
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": precision,
                    "INFERENCE_NUM_THREADS": threads,
                    "PERFORMANCE_HINT": "LATENCY",
                },
            )
        return _COMPILED[key]


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when OpenVINO reports native bf16 on this CPU (False without openvino)."""
    try:
        caps = _core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except BackendUnavailableError:
        return False
    return "BF16" in [str(c) for c in caps]


class OpenVINOMiniLM(MiniLMEmbedder):
    """OpenVINO on the CPU, fp32 (same numbers as sentence-transformers)."""

    backend = "minilm-openvino"
    precision = "f32"
    variant = "fp32"
    pad_multiple = 16

    def __init__(
        self,
        *,
        threads: int | None = None,
        batch_size: int | None = None,
        cache_dir: str | Path | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(threads=threads, batch_size=batch_size, name=name)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._request: Any = None
        self._request_lock = threading.Lock()  # an infer request serves one call at a time

    def _load(self) -> None:
        _core()
        if self.precision == "bf16" and not cpu_has_native_bf16():
            raise BackendUnavailableError(
                f"{self.backend}: this CPU has no native bf16 (AMX or AVX512-BF16); "
                "use `minilm-onnx` or `minilm-openvino` instead"
            )
        path = ensure_onnx(self.variant, self.cache_dir)
        compiled = _compiled(path, self.precision, self.threads)
        self._request = compiled.create_infer_request()

    def _run(self, texts: list[str], ids: list[list[int]]) -> np.ndarray:
        input_ids, mask = pad_batch(ids, self.pad_multiple)
        with self._request_lock:
            self._request.infer({"input_ids": input_ids, "attention_mask": mask})
            return np.array(self._request.get_output_tensor(0).data, dtype=np.float32)


class OpenVINOBf16MiniLM(OpenVINOMiniLM):
    """OpenVINO with bf16 matrix products (native bf16 CPUs only)."""

    backend = "minilm-openvino-bf16"
    precision = "bf16"


class OpenVINOInt8MiniLM(OpenVINOMiniLM):
    """OpenVINO on the int8 QDQ export (calibrated once, on first use, ~15 s).

    Its mean cosine to the fp32 model is about 0.99 (0.96 on one-word texts): below the bar,
    so it has its own ``model_id``.
    """

    backend = "minilm-openvino-int8"
    variant = "int8-qdq"
    model_id = f"{MODEL_ID}-openvino-int8"
