"""``--mlflow`` for every ``ponder eval ...`` command: one shared option and one call.

An evaluation command adds the option and, once it has its results, calls ``track``::

    from ponder.cli.tracking import MLFLOW_OPTION, track

    def eval_x(..., mlflow: bool = MLFLOW_OPTION) -> None:
        ...
        track(mlflow, "eval x", params={...}, metrics={...},
              artifacts={"result.json": report, "items.jsonl": rows}, dataset=path)

``track_result(mlflow, "eval x", result_dict, artifacts=..., dataset=...)`` does the same
from one result dictionary (text fields become parameters, numbers metrics).

``track`` does nothing without ``--mlflow``; with it, it logs one run
(``ponder.ops.tracking.log_eval_run``) and prints its id and store on stderr, so ``--json``
output stays clean. This module does not import MLflow itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from ponder.cli.common import console_err, settings

MLFLOW_OPTION: Any = typer.Option(
    False,
    "--mlflow",
    help="Log this evaluation as an MLflow run: parameters, metrics, artifacts "
    "(MLFLOW_TRACKING_URI, default $PONDER_HOME/mlflow/mlflow.db).",
)


def track(
    enabled: bool,
    command: str,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    artifacts: Mapping[str, Any] | None = None,
    dataset: str | Path | None = None,
    tags: Mapping[str, str] | None = None,
) -> Any:
    """Log the evaluation when ``enabled``; return the ``TrackedRun`` (or ``None``)."""
    if not enabled:
        return None
    from ponder.ops.tracking import log_eval_run

    run = log_eval_run(
        command, params=params, metrics=metrics, artifacts=artifacts, dataset=dataset,
        tags=tags, home=settings().home,
    )
    console_err.print(
        f"mlflow: logged run {run.run_id} ({run.metrics} metrics, {run.params} params, "
        f"{len(run.artifacts)} artifacts) in experiment {run.experiment!r} at "
        f"{run.tracking_uri}",
        highlight=False,
    )
    return run


def track_result(
    enabled: bool,
    command: str,
    result: Mapping[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    artifacts: Mapping[str, Any] | None = None,
    dataset: str | Path | None = None,
) -> Any:
    """``track`` for a command whose result is one JSON-able dictionary: its text fields
    become parameters, its numbers metrics (``ponder.ops.tracking.split_result``), and the
    whole dictionary the ``result.json`` artifact."""
    if not enabled:
        return None
    from ponder.ops.tracking import split_result

    found_params, metrics = split_result(result)
    return track(
        enabled, command, params={**found_params, **(params or {})}, metrics=metrics,
        artifacts={"result.json": dict(result), **(artifacts or {})}, dataset=dataset,
    )


__all__ = ["MLFLOW_OPTION", "track", "track_result"]
