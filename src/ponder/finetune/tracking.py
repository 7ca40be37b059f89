"""``ponder finetune llm --mlflow``: one MLflow run per training, through ``ponder.ops.tracking``
(the same store as ``ponder eval ... --mlflow``; experiment ``ponder-finetune``).

Logged: the options as parameters, the training loss per step and the eval loss and
perplexity per epoch as metric histories, tokens/s and wall time, ``report.json``, a plot of
the loss curve, and the model (the LoRA adapter folder, and the GGUF file when written).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

EXPERIMENT = "ponder-finetune"


def _tracking() -> Any:
    from ponder.ops import tracking  # imports MLflow's helpers only when --mlflow is given

    return tracking


def check_tracking() -> None:
    """Fail before training when MLflow tracking cannot work."""
    _tracking().mlflow_module()


def _plot(losses: list[tuple[int, float]], evals: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if losses:
        ax.plot([s for s, _ in losses], [v for _, v in losses], lw=1, label="train loss")
    if evals:
        ax.plot([e["step"] for e in evals], [e["loss"] for e in evals], "o-", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def track_llm_run(result: Any, *, home: str | Path | None = None) -> dict[str, Any]:
    """Log a ``FinetuneResult`` as one MLflow run; return where it is."""
    tracking = _tracking()
    mlflow = tracking.mlflow_module()
    from mlflow.entities import Metric, Param

    exp_id = tracking.experiment_id(EXPERIMENT, home)
    uri = tracking.tracking_uri(home)
    client = mlflow.MlflowClient(uri)
    run = client.create_run(exp_id, run_name="finetune-llm",
                            tags={"ponder.kind": "finetune", "ponder.command": "finetune llm"})
    run_id = run.info.run_id
    try:
        params = tracking.param_values({"base": result.base["spec"], **result.config,
                                        "train_examples": result.train_data["examples"]})
        now = int(time.time() * 1000)
        metrics = [Metric("train_loss", float(v), now, int(s)) for s, v in result.losses]
        for e in result.evals:
            metrics.append(Metric("eval_loss", float(e["loss"]), now, int(e["step"])))
            metrics.append(Metric("eval_perplexity", float(e["perplexity"]), now, int(e["step"])))
        metrics += [Metric("tokens_per_s", float(result.tokens_per_s), now, 0),
                    Metric("wall_s", float(result.wall_s), now, 0),
                    Metric("steps", float(result.steps), now, 0)]
        items = list(params.items())
        for i in range(0, max(len(items), len(metrics), 1), 100):
            client.log_batch(run_id, metrics=metrics[i:i + 100],
                             params=[Param(k, v) for k, v in items[i:i + 100]])
        out = Path(result.out_dir)
        client.log_artifact(run_id, str(out / "report.json"))
        with tempfile.TemporaryDirectory(prefix="ponder-ft-") as tmp:
            png = _plot(list(result.losses), list(result.evals), Path(tmp) / "loss.png")
            client.log_artifact(run_id, str(png))
        if result.adapter_dir:
            client.log_artifacts(run_id, result.adapter_dir, artifact_path="adapter")
        if result.gguf:
            client.log_artifact(run_id, result.gguf["path"], artifact_path="model")
        client.set_terminated(run_id, "FINISHED")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return {"run_id": run_id, "experiment_id": exp_id, "tracking_uri": uri,
            "artifact_uri": client.get_run(run_id).info.artifact_uri}


__all__ = ["EXPERIMENT", "check_tracking", "track_llm_run"]
