"""Fast MLflow stores for tests: MLflow builds a new SQLite store by running every schema
migration (seconds each time); ``fresh_store`` runs them once per process and copies the
empty, migrated database into each test's folder.

>>> import tempfile, pathlib
>>> uri = fresh_store(pathlib.Path(tempfile.mkdtemp()) / "mlflow")  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ponder.ops.tracking import mlflow_module

_TEMPLATE: list[Path] = []


def _template() -> Path:
    if not _TEMPLATE:
        mlflow = mlflow_module()
        folder = Path(tempfile.mkdtemp(prefix="ponder-mlflow-template-"))
        db = folder / "mlflow.db"
        mlflow.MlflowClient(f"sqlite:///{db}").search_experiments()  # creates and migrates
        _TEMPLATE.append(db)
    return _TEMPLATE[0]


def fresh_store(folder: str | Path) -> str:
    """Put an empty, migrated ``mlflow.db`` in ``folder``; return its tracking URI."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), folder / "mlflow.db")
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


__all__ = ["fresh_store"]
