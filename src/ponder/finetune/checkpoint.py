"""Training checkpoints that survive ``kill -9``: written to a temporary folder, then renamed.

A checkpoint folder ``OUT/checkpoints/step-000040/`` holds ``state.json`` (a ``TrainState``:
steps, epoch, position in the epoch, history), ``weights.pt`` (the trainable parameters only:
the LoRA matrices, or every weight for full fine-tuning), ``optimizer.pt`` (optimizer and
scheduler state) and ``rng.pt``. A kill while writing leaves a ``.tmp`` folder, which is
ignored and removed by the next save; the last ``keep`` complete checkpoints are kept.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp())
>>> latest_checkpoint(out) is None
True
>>> s = TrainState(step=3, epoch=0, batch_in_epoch=6, tokens=120)
>>> TrainState.from_dict(s.to_dict()) == s
True
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ponder.errors import InputError

CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class TrainState:
    """Where training stands: optimizer ``step``, the ``epoch`` in progress and the number of
    micro-batches of it done (``batch_in_epoch``), tokens seen, early-stopping bookkeeping."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    best_eval: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    evals: tuple[dict[str, Any], ...] = field(default=())
    losses: tuple[tuple[int, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evals"] = list(self.evals)
        d["losses"] = [list(x) for x in self.losses]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainState:
        d = dict(d)
        d["evals"] = tuple(d.get("evals", ()))
        d["losses"] = tuple((int(a), float(b)) for a, b in d.get("losses", ()))
        return cls(**d)

    def replace(self, **changes: Any) -> TrainState:
        return replace(self, **changes)


def _dir(out: Path) -> Path:
    return Path(out) / CHECKPOINTS


def list_checkpoints(out: str | Path) -> list[Path]:
    """Complete checkpoints under ``out``, oldest first."""
    d = _dir(Path(out))
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir()
                  if p.is_dir() and p.name.startswith("step-") and not p.name.endswith(".tmp")
                  and (p / "state.json").is_file())


def latest_checkpoint(out: str | Path) -> Path | None:
    """The newest complete checkpoint under ``out``, or ``None``."""
    found = list_checkpoints(out)
    return found[-1] if found else None


def save_checkpoint(out: str | Path, state: TrainState, weights: dict[str, Any],
                    optimizer: Any, scheduler: Any, *, keep: int = 2) -> Path:
    """Write a checkpoint atomically (temporary folder, fsync, rename); prune old ones."""
    import torch

    d = _dir(Path(out))
    d.mkdir(parents=True, exist_ok=True)
    for stale in d.glob("*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    final = d / f"step-{state.step:06d}"
    tmp = d / f"step-{state.step:06d}.tmp"
    tmp.mkdir()
    torch.save(weights, tmp / "weights.pt")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
               tmp / "optimizer.pt")
    torch.save({"torch": torch.get_rng_state(), "python": random.getstate()}, tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state.to_dict(), indent=1))
    for f in tmp.iterdir():
        with f.open("rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    for old in list_checkpoints(out)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    state: TrainState
    weights: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint folder written by ``save_checkpoint``."""
    import torch

    p = Path(path)
    try:
        state = TrainState.from_dict(json.loads((p / "state.json").read_text()))
        weights = torch.load(p / "weights.pt", map_location="cpu", weights_only=True)
        opt = torch.load(p / "optimizer.pt", map_location="cpu", weights_only=False)
        rng = torch.load(p / "rng.pt", map_location="cpu", weights_only=False)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
        raise InputError(
            f"checkpoint {p} cannot be read ({e}): delete that folder to resume from the one "
            "before it, or start again with --overwrite"
        ) from e
    return Checkpoint(p, state, weights, opt["optimizer"], opt["scheduler"], rng)


def restore_rng(rng: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])


__all__ = [
    "Checkpoint",
    "TrainState",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "restore_rng",
    "save_checkpoint",
]
