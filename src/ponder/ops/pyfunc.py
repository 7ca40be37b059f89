"""``RagModel``: the MLflow pyfunc wrapper of ``ponder.ops.model.RagService`` (this module
imports MLflow; ``ponder.ops.model`` imports it only when logging or loading)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ponder.ops.model import OUTPUT_COLUMNS, service_from_model_dir
from ponder.ops.tracking import mlflow_module

mlflow = mlflow_module()


class RagModel(mlflow.pyfunc.PythonModel):  # type: ignore[misc, name-defined]
    """Ponder's RAG application as an MLflow pyfunc (see ``ponder.ops.model``).

    Artifacts: ``config`` (``ponder_model.json``), ``snapshot`` (the collection) and,
    when copied, ``generator`` (the weights)."""

    def load_context(self, context: Any) -> None:
        arts = context.artifacts
        self.service = service_from_model_dir(
            arts["config"], arts["snapshot"], arts.get("generator")
        )

    # ``pd.DataFrame`` tells MLflow to validate inputs against the logged signature (a
    # ``question`` string column), not against type hints
    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        rows = self.service.predict(model_input)
        return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


__all__ = ["RagModel"]
