"""LLMOps on MLflow: tracked evaluations, the RAG application as a registered model,
promotion through aliases with metric gates, lineage, and serving.

- ``ponder.ops.tracking``: ``log_eval_run`` (one MLflow run per evaluation: parameters,
  metrics, artifacts) and the tracking store (``MLFLOW_TRACKING_URI``, else
  ``sqlite:///$PONDER_HOME/mlflow/mlflow.db`` with artifacts beside it).
- ``ponder.ops.snapshot``: a consistent copy of a collection (SQLite online backup plus its
  index files) that a model carries as artifacts.
- ``ponder.ops.lineage``: what an answer depends on (catalog version, embedder id, generator
  file hash, prompt template version).
- ``ponder.ops.model``: ``RagModel`` (an ``mlflow.pyfunc.PythonModel``), ``log_rag_model`` and
  ``load_rag_model``.
- ``ponder.ops.registry``: ``promote`` (alias with a metric gate, who/what/why as tags),
  ``compare`` and ``lineage_of``.

MLflow is imported only inside these modules, never by ``import ponder`` or
``import ponder.ops`` (names resolve on first use):

>>> import ponder.ops
>>> ponder.ops.log_eval_run.__module__
'ponder.ops.tracking'
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "log_eval_run": "ponder.ops.tracking",
    "tracking_uri": "ponder.ops.tracking",
    "snapshot_collection": "ponder.ops.snapshot",
    "Lineage": "ponder.ops.lineage",
    "log_rag_model": "ponder.ops.model",
    "load_rag_model": "ponder.ops.model",
    "promote": "ponder.ops.registry",
    "compare": "ponder.ops.registry",
    "lineage_of": "ponder.ops.registry",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder.ops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = sorted(_EXPORTS)
