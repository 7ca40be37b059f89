"""Shared CLI helpers: consoles, settings with ``--home``, JSON output, progress bars."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ponder.config import Settings, load_settings
from ponder.errors import ConfigError

console = Console()
console_err = Console(stderr=True)
_home: str | None = None


def set_home(home: str | None) -> None:
    global _home
    _home = home


def settings(**overrides: Any) -> Settings:
    return load_settings(home=_home, **overrides)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()


def progress_bar(*extra_columns: Any, transient: bool = False) -> Progress:
    """A Rich progress bar on stderr (stdout stays clean for ``--json``)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra_columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console_err,
        transient=transient,
    )


class RateColumn(ProgressColumn):
    """Items per second of a task (e.g. chunks/s), blank until measured."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:6.1f}/s" if speed else "", style="cyan")


def setup_logging() -> None:
    """Show Ponder's one-line notices (stale index rebuilt, fallbacks) on stderr."""

    log = logging.getLogger("ponder")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("notice: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def parse_weights(value: str | None) -> tuple[float, float] | None:
    """``"0.6,0.4"`` -> ``(0.6, 0.4)``: hybrid weights (dense, BM25) from a CLI option."""
    if value is None:
        return None
    try:
        dense, bm25 = (float(x) for x in value.split(","))
    except ValueError:
        raise ConfigError(
            f"--weights {value!r}: give two numbers, dense then BM25, e.g. --weights 0.6,0.4"
        ) from None
    return dense, bm25
