"""Can llama.cpp's extra (AMX) weight buffers run here? Checked once per machine.

Some virtual machines report AMX in ``/proc/cpuinfo`` and grant the permission to use it, yet
fault (SIGILL) on the tile instructions that llama.cpp's AMX kernels use for batches of more
than one token. A fault kills the process, so the check runs in a child process: it loads the
model with the default buffers and evaluates a four-token batch. The answer is cached in
``$XDG_CACHE_HOME/ponder/llama-extra-buffers.json`` (keyed by llama-cpp-python version,
kernel and CPU count); ``PONDER_LLAMA_EXTRA_BUFFERS=0|1`` overrides it.

>>> isinstance(cpu_has_amx(), bool)
True
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags ``/proc/cpuinfo`` lists (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="ignore")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_has_amx() -> bool:
    return bool({"amx_int8", "amx_tile"} & cpu_flags())


def cpu_has_bf16() -> bool:
    """Native bf16 arithmetic (``avx512_bf16`` or ``amx_bf16``)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


_PROBE = """
import sys, llama_cpp, llama_cpp._internals as I
from llama_cpp import _logger
_logger.set_verbose(False)
llama_cpp.llama_backend_init()
mp = llama_cpp.llama_model_default_params()
m = I.LlamaModel(path_model=sys.argv[1], params=mp, verbose=False)
cp = llama_cpp.llama_context_default_params()
cp.n_ctx = 64; cp.n_batch = 8; cp.n_ubatch = 8; cp.n_threads = 1; cp.n_threads_batch = 1
c = I.LlamaContext(model=m, params=cp, verbose=False)
b = I.LlamaBatch(n_tokens=8, embd=0, n_seq_max=1, verbose=False)
b.set_batch([1, 2, 3, 4], 0, False)
c.decode(b)
print("ok")
"""


def extra_buffers_safe(model_path: Path) -> bool:
    """Whether llama.cpp's extra (AMX) weight buffers run here; checked once per machine."""
    env = os.environ.get("PONDER_LLAMA_EXTRA_BUFFERS")
    if env in ("0", "1"):
        return env == "1"
    if not cpu_has_amx():
        return True
    import llama_cpp

    key = f"{llama_cpp.__version__}|{platform.release()}|{platform.processor()}|{os.cpu_count()}"
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ponder"
    cache_file = cache_dir / "llama-extra-buffers.json"
    try:
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return bool(cached["safe"])
    except (OSError, ValueError, KeyError):
        pass
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE, str(model_path)],
            capture_output=True, text=True, timeout=120, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False  # undecided: be safe now, ask again next time
    if proc.returncode == 0 and "ok" in proc.stdout:
        safe = True
    elif proc.returncode in (-4, 132):  # SIGILL: the AMX tile instructions fault
        safe = False
    else:
        return False
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps({"key": key, "safe": safe}), encoding="utf-8")
    except OSError:
        pass
    return safe


__all__ = ["cpu_flags", "cpu_has_amx", "cpu_has_bf16", "extra_buffers_safe"]
