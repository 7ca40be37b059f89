"""What the machine can give a training run: memory for full fine-tuning (native bf16 is
``ponder.llm.cpu_probe.cpu_has_bf16``)."""

from __future__ import annotations

from pathlib import Path

from ponder.errors import ConfigError


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or 0 when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def check_full_memory(n_params: int, available: int) -> None:
    """Refuse full fine-tuning that cannot fit: weights, gradients and two AdamW moments in
    fp32 (16 bytes per parameter) plus half as much again for activations.

    >>> check_full_memory(135_000_000, 64 * 2**30)
    >>> check_full_memory(7_000_000_000, 16 * 2**30)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: full fine-tuning of 7000M parameters needs about 156.5 GiB ...
    """
    need = int(n_params * 16 * 1.5)
    if available and need > available:
        raise ConfigError(
            f"full fine-tuning of {n_params / 1e6:.0f}M parameters needs about "
            f"{need / 2**30:.1f} GiB of memory and {available / 2**30:.1f} GiB is available: "
            "use --method lora (it trains about 1% of the weights and needs little more than "
            "the model itself)"
        )
