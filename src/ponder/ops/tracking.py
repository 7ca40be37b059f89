"""Tracked evaluations: one MLflow run per ``ponder eval ... --mlflow`` (or per call of
``log_eval_run`` from Python), with its parameters, metrics and artifacts.

Where runs go: ``MLFLOW_TRACKING_URI`` when it is set; otherwise a real local MLflow store
under ``$PONDER_HOME/mlflow``: ``mlflow.db`` (SQLite: runs, the model registry) and
``artifacts/`` beside it. ``mlflow ui`` opens it::

    mlflow ui --backend-store-uri sqlite:///$PONDER_HOME/mlflow/mlflow.db \\
              --default-artifact-root $PONDER_HOME/mlflow/artifacts

Nothing leaves the machine: MLflow's telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``,
``DO_NOT_TRACK``) before MLflow is imported, unless the environment says otherwise.

Metric names are made valid for MLflow and for promotion gates (``ponder ops promote
--if``): ``@`` becomes ``_at_``, other characters MLflow refuses become ``_``; nested values
are flattened with dots.

>>> metric_name("ndcg@10"), metric_name("hybrid/recall@100"), metric_name("p(50)")
('ndcg_at_10', 'hybrid/recall_at_100', 'p_50_')
>>> flatten({"hybrid": {"ndcg@10": 0.7, "n": 3}, "model": "minilm"})
{'hybrid.ndcg@10': 0.7, 'hybrid.n': 3, 'model': 'minilm'}
>>> numeric_metrics({"a.ndcg@10": 0.5, "name": "x", "flag": True, "bad": float("nan")})
{'a.ndcg_at_10': 0.5}
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.config import load_settings
from ponder.errors import BackendUnavailableError, ConfigError, InputError

EVAL_EXPERIMENT = "ponder-eval"
MODEL_EXPERIMENT = "ponder-models"
_PARAM_MAX = 6000  # MLflow's longest parameter value
_BAD_METRIC_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


# ------------------------------------------------------------------------------ the store
def offline_environment() -> None:
    """Keep MLflow local: no telemetry, no progress bars (unless the user set otherwise)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def mlflow_module() -> Any:
    """``import mlflow`` (offline), or a ``BackendUnavailableError`` saying how to install it."""
    offline_environment()
    try:
        import mlflow
    except ImportError as e:
        raise BackendUnavailableError(
            f"MLflow is not installed ({e}): pip install 'ponder[ops]'"
        ) from None

    # MLflow's INFO lines (tables created, example validated) would bury Ponder's own output
    if logging.getLogger("mlflow").level < logging.WARNING:
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    return mlflow


def local_store(home: str | Path | None = None) -> Path:
    """The folder of the default local store: ``$PONDER_HOME/mlflow``."""
    base = Path(home).expanduser() if home else load_settings().home_path
    return base / "mlflow"


def tracking_uri(home: str | Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///$PONDER_HOME/mlflow/mlflow.db``.

    >>> import os, tempfile
    >>> os.environ.pop("MLFLOW_TRACKING_URI", None) and None
    >>> tracking_uri("/data/ponder")
    'sqlite:////data/ponder/mlflow/mlflow.db'
    """
    env = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if env:
        return env
    return f"sqlite:///{local_store(home).resolve() / 'mlflow.db'}"


def use_store(home: str | Path | None = None) -> str:
    """Point MLflow (tracking and registry) at the store; return its URI."""
    mlflow = mlflow_module()
    uri = tracking_uri(home)
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def experiment_id(name: str, home: str | Path | None = None) -> str:
    """The id of experiment ``name``, created if needed (artifacts beside the local store).

    ``MLFLOW_EXPERIMENT_NAME`` overrides ``name`` when set.
    """
    mlflow = mlflow_module()
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "").strip() or name
    uri = use_store(home)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if uri.startswith("sqlite:///"):  # artifacts beside the database, never in the cwd
        folder = Path(uri[len("sqlite:///"):]).resolve().parent / "artifacts" / name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.as_uri()
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except Exception:  # created meanwhile by another process
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return str(exp.experiment_id)


# ------------------------------------------------------------------------------ values
def metric_name(name: str) -> str:
    return _BAD_METRIC_CHARS.sub("_", name.replace("@", "_at_"))


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, full + "."))
        else:
            out[full] = value
    return out


def numeric_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``values`` (flattened), under valid metric names."""
    out: dict[str, float] = {}
    for key, value in flatten(values).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[metric_name(key)] = float(value)
    return out


def param_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Parameters as MLflow stores them: flattened, strings, at most 6000 characters."""
    out: dict[str, str] = {}
    for key, value in flatten(values).items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out[metric_name(key)] = text[:_PARAM_MAX]
    return out


_ROW_KEYS = ("setting", "system", "mode", "name", "group", "label", "model", "task")


def split_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(params, metrics)`` from an evaluation's result dictionary: top-level text, flags
    and short lists of them are parameters; numbers anywhere are metrics, lists of rows
    keyed by their ``setting``/``system``/``name``... field (else their index).

    >>> params, metrics = split_result({"model": "m", "n": 3, "labels": ["x", "y"],
    ...     "systems": [{"system": "lead-3", "rouge1": 0.3}], "by": {"a": {"f1": 0.5, "x": "y"}}})
    >>> params
    {'model': 'm', 'labels': ['x', 'y']}
    >>> metrics
    {'n': 3, 'systems': {'lead-3': {'rouge1': 0.3}}, 'by': {'a': {'f1': 0.5}}}
    """
    params: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    for key, value in result.items():
        text_list = isinstance(value, list) and all(isinstance(v, str | bool) for v in value)
        if isinstance(value, str | bool) or value is None or text_list:
            params[key] = value
        else:
            m = _numbers(value)
            if m is not None:
                metrics[key] = m
    return params, metrics


def _numbers(value: Any) -> Any:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if math.isfinite(float(value)) else None
    if isinstance(value, Mapping):
        out = {k: v for k, v in ((k, _numbers(v)) for k, v in value.items()) if v is not None}
        return out or None
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        key = next((k for k in _ROW_KEYS if all(k in v for v in value)), None)
        named = {str(v[key]) if key else str(i): _numbers(v) for i, v in enumerate(value)}
        out = {k: v for k, v in named.items() if v is not None}
        return out or None
    return None


def dataset_fingerprint(path: str | Path) -> str:
    """sha256 of a data file, or of a folder's files (relative names and bytes, sorted).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("x")
    >>> dataset_fingerprint(d) == dataset_fingerprint(d), len(dataset_fingerprint(d / "a.txt"))
    (True, 64)
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"data set {p} not found: give an existing file or folder")
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if f != p else f.name).encode() + b"\x00")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------ runs
@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run that was logged: where to find it."""

    run_id: str
    experiment_id: str
    experiment: str
    tracking_uri: str
    artifact_uri: str
    metrics: int
    params: int
    artifacts: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment_id": self.experiment_id,
            "experiment": self.experiment,
            "tracking_uri": self.tracking_uri,
            "artifact_uri": self.artifact_uri,
            "metrics": self.metrics,
            "params": self.params,
            "artifacts": list(self.artifacts),
        }


def _write_artifact(folder: Path, name: str, value: Any) -> Path:
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, Path):
        if not value.exists():
            raise InputError(f"artifact {value} not found")
        return value
    if isinstance(value, bytes):
        target.write_bytes(value)
    elif isinstance(value, str):
        target.write_text(value, encoding="utf-8")
    elif name.endswith(".jsonl"):
        rows = value if isinstance(value, list) else list(value)
        target.write_text(
            "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows),
            encoding="utf-8",
        )
    else:
        target.write_text(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n",
                          encoding="utf-8")
    return target


def plot_metrics(metrics: Mapping[str, float], path: Path, title: str) -> Path | None:
    """A bar chart of the metrics in [0, 1] (grouped by setting, the part before the last
    dot); ``None`` when there is nothing to draw."""
    bars = {k: v for k, v in metrics.items() if 0.0 <= v <= 1.0}
    if not bars:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(bars)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(names) + 2), 3.5))
    ax.bar(range(len(names)), [bars[n] for n in names], color="#4c72b0")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def log_eval_run(
    name: str,
    *,
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    artifacts: Mapping[str, Any] | None = None,
    dataset: str | Path | None = None,
    tags: Mapping[str, str] | None = None,
    plot: bool = True,
    experiment: str = EVAL_EXPERIMENT,
    home: str | Path | None = None,
) -> TrackedRun:
    """Log one evaluation as one MLflow run and return where it is.

    - ``params``: settings (models and their ids, retrieval and index settings, chain...);
      nested mappings are flattened with dots. With ``dataset`` its path and sha256 are added
      (``dataset.path``, ``dataset.sha256``).
    - ``metrics``: numbers (nested mappings flattened; non-numbers are left out).
    - ``artifacts``: ``{file name: value}``: a ``Path`` (file or folder, copied), ``bytes``,
      ``str`` (text), or JSON-able data (``.jsonl`` names take a list of rows). A bar chart
      of the metrics (``metrics.png``) is added with ``plot=True``.
    """
    mlflow = mlflow_module()
    from mlflow.entities import Metric, Param, RunTag

    all_params = dict(params)
    if dataset is not None:
        all_params["dataset.path"] = str(dataset)
        all_params["dataset.sha256"] = dataset_fingerprint(dataset)
    p = param_values(all_params)
    m = numeric_metrics(metrics)
    if not m:
        raise ConfigError(f"evaluation {name!r} produced no numeric metric to log")
    exp_id = experiment_id(experiment, home)
    uri = tracking_uri(home)
    client = mlflow.MlflowClient(uri)
    run_tags = {"ponder.kind": "eval", "ponder.command": name, **(tags or {})}
    run = client.create_run(exp_id, run_name=name.replace(" ", "-"), tags=run_tags)
    run_id = run.info.run_id
    logged: list[str] = []
    try:
        now = int(time.time() * 1000)
        items = list(p.items())
        for i in range(0, max(len(items), 1), 100):
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in m.items()] if i == 0 else [],
                params=[Param(k, v) for k, v in items[i : i + 100]],
                tags=[RunTag(k, str(v)) for k, v in run_tags.items()] if i == 0 else [],
            )
        with tempfile.TemporaryDirectory(prefix="ponder-mlflow-") as tmp:
            folder = Path(tmp)
            for art_name, value in (artifacts or {}).items():
                path = _write_artifact(folder, art_name, value)
                if path.is_dir():
                    client.log_artifacts(run_id, str(path), artifact_path=path.name)
                    logged.append(path.name + "/")
                else:
                    client.log_artifact(run_id, str(path))
                    logged.append(path.name)
            if plot and plot_metrics(m, folder / "metrics.png", name) is not None:
                client.log_artifact(run_id, str(folder / "metrics.png"))
                logged.append("metrics.png")
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return TrackedRun(
        run_id=run_id,
        experiment_id=exp_id,
        experiment=client.get_experiment(exp_id).name,
        tracking_uri=uri,
        artifact_uri=client.get_run(run_id).info.artifact_uri,
        metrics=len(m),
        params=len(p),
        artifacts=tuple(logged),
    )


def latest_eval_run(collection: str, home: str | Path | None = None) -> str | None:
    """The id of the newest finished evaluation run whose ``collection`` parameter is
    ``collection`` (``None`` when there is none)."""
    mlflow = mlflow_module()
    uri = use_store(home)
    client = mlflow.MlflowClient(uri)
    exp = client.get_experiment_by_name(
        os.environ.get("MLFLOW_EXPERIMENT_NAME", "").strip() or EVAL_EXPERIMENT
    )
    if exp is None:
        return None
    safe = collection.replace("'", "")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"params.collection = '{safe}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


__all__ = [
    "EVAL_EXPERIMENT",
    "MODEL_EXPERIMENT",
    "TrackedRun",
    "dataset_fingerprint",
    "experiment_id",
    "flatten",
    "latest_eval_run",
    "log_eval_run",
    "metric_name",
    "numeric_metrics",
    "param_values",
    "split_result",
    "tracking_uri",
    "use_store",
]
