"""The model registry: promotion with metric gates, a comparison of versions, lineage.

- ``promote(name, version, alias, gate="ndcg_at_10>=0.70")`` sets the alias (``champion`` or
  ``challenger``) only when the named metric of the version's evaluation run passes; who,
  what and why are recorded as version tags (``ponder.promoted.<alias>.*``), and a refused
  promotion is recorded too (``ponder.refused.<alias>``).
- ``compare(name)``: every version with its aliases, lineage and evaluation metrics.
- ``lineage_of(name, version)``: the lineage tags, and whether the live collection changed
  since the snapshot.

A version's *evaluation run* is the run named by its ``ponder.eval_run_id`` tag (set by
``ponder ops log-model --eval-run`` or ``ponder ops link-eval``); a gate on ``ndcg_at_10``
also finds ``hybrid.ndcg_at_10`` when the model retrieves with ``hybrid``.

>>> parse_gate("ndcg_at_10>=0.70")
Gate(metric='ndcg_at_10', op='>=', threshold=0.7)
>>> parse_gate("f1 > 0.5").passes(0.6), parse_gate("latency_p50<2").passes(3.0)
(True, False)
>>> parse_gate("ndcg")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: gate 'ndcg' is not METRIC OP NUMBER ...
"""

from __future__ import annotations

import getpass
import json
import operator
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, ModelNotFoundError
from ponder.ops.lineage import PREFIX, Lineage
from ponder.ops.snapshot import live_version
from ponder.ops.tracking import metric_name, mlflow_module, use_store

ALIASES = ("champion", "challenger")
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
        "==": operator.eq}
_GATE = re.compile(r"^\s*([A-Za-z0-9_.\-/@]+)\s*(>=|<=|==|>|<)\s*(-?[0-9.]+(?:e-?\d+)?)\s*$")


@dataclass(frozen=True)
class Gate:
    """``METRIC OP NUMBER``: a condition on one metric of the evaluation run."""

    metric: str
    op: str
    threshold: float

    def passes(self, value: float) -> bool:
        return bool(_OPS[self.op](value, self.threshold))

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"


def parse_gate(text: str) -> Gate:
    m = _GATE.match(text or "")
    if not m:
        raise ConfigError(
            f"gate {text!r} is not METRIC OP NUMBER with OP one of >= <= > < ==: e.g. "
            "--if 'ndcg_at_10>=0.70'"
        )
    try:
        threshold = float(m.group(3))
    except ValueError:
        raise ConfigError(f"gate {text!r}: {m.group(3)!r} is not a number") from None
    return Gate(metric_name(m.group(1)), m.group(2), threshold)


# ------------------------------------------------------------------------------ lookups
def _client(home: str | Path | None = None) -> Any:
    mlflow = mlflow_module()
    return mlflow.MlflowClient(use_store(home))


def _not_found(e: Exception) -> bool:
    code = getattr(e, "error_code", "")
    return "RESOURCE_DOES_NOT_EXIST" in str(code) or "not found" in str(e).lower() or (
        "INVALID_PARAMETER_VALUE" in str(code) and "alias" in str(e).lower())


def registered_model(client: Any, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except Exception as e:
        if not _not_found(e):
            raise
        names = sorted(m.name for m in client.search_registered_models(max_results=50))
        known = f"registered models: {', '.join(names)}" if names else "no model is registered"
        raise ModelNotFoundError(
            f"no registered model {name!r} in {client.tracking_uri} ({known}); log one with "
            f"`ponder ops log-model --collection C --name {name}`"
        ) from None


def model_version(client: Any, name: str, version: str | int | None = None,
                  alias: str | None = None) -> Any:
    """A model version by number or alias, or a ``ModelNotFoundError`` naming what exists."""
    rm = registered_model(client, name)
    if alias is not None:
        try:
            return client.get_model_version_by_alias(name, alias)
        except Exception as e:
            if not _not_found(e):
                raise
            aliases = dict(getattr(rm, "aliases", {}) or {})
            have = ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
            raise ModelNotFoundError(
                f"model {name!r} has no alias {alias!r} (aliases: {have}); set it with "
                f"`ponder ops promote {name} --version V --alias {alias}`"
            ) from None
    try:
        return client.get_model_version(name, str(version))
    except Exception as e:
        if not _not_found(e):
            raise
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        raise ModelNotFoundError(
            f"model {name!r} has no version {version} (versions: "
            f"{', '.join(map(str, versions)) or 'none'})"
        ) from None


def check_model_uri(uri: str, home: str | Path | None = None) -> None:
    """For ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``: raise a clear
    ``ModelNotFoundError`` when the name, alias or version does not exist."""
    if not uri.startswith("models:/"):
        return
    rest = uri[len("models:/"):].strip("/")
    client = _client(home)
    if "@" in rest:
        name, alias = rest.split("@", 1)
        model_version(client, name, alias=alias)
    elif "/" in rest:
        name, version = rest.split("/", 1)
        if version.isdigit():
            model_version(client, name, version=version)
        else:
            registered_model(client, name)
    else:
        registered_model(client, rest)


def set_version_tags(client: Any, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, str(value)[:5000])


def eval_metrics(client: Any, mv: Any) -> tuple[str | None, dict[str, float]]:
    """The version's evaluation run id and its metrics (``(None, {})`` without one)."""
    run_id = (mv.tags or {}).get("ponder.eval_run_id")
    if not run_id:
        return None, {}
    try:
        run = client.get_run(run_id)
    except Exception:
        return run_id, {}
    return run_id, dict(run.data.metrics)


def _find_metric(metrics: dict[str, float], name: str, lineage: Lineage | None) -> str | None:
    if name in metrics:
        return name
    mode = (lineage.ask_options.get("retrieval") if lineage else None) or "hybrid"
    for candidate in (f"{mode}.{name}", f"{mode}/{name}"):
        if candidate in metrics:
            return candidate
    ends = [k for k in metrics if k.endswith("." + name)]
    return ends[0] if len(ends) == 1 else None


# ------------------------------------------------------------------------------ promote
@dataclass(frozen=True)
class Promotion:
    """The outcome of ``promote``."""

    name: str
    version: str
    alias: str
    promoted: bool
    previous: str | None
    gate: str | None
    metric: str | None
    value: float | None
    reason: str
    by: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(
    name: str,
    version: str | int,
    alias: str = "champion",
    *,
    gate: str | None = None,
    reason: str = "",
    by: str | None = None,
    home: str | Path | None = None,
) -> Promotion:
    """Point ``alias`` at ``version`` of ``name`` when ``gate`` passes (or without a gate)."""
    if alias not in ALIASES:
        raise ConfigError(f"alias {alias!r}: use one of {', '.join(ALIASES)}")
    client = _client(home)
    mv = model_version(client, name, version=version)
    version = str(mv.version)
    rm = registered_model(client, name)
    held = (dict(getattr(rm, "aliases", {}) or {})).get(alias)
    previous = None if held is None else str(held)
    who = by or getpass.getuser()
    g = parse_gate(gate) if gate else None
    metric = value = None
    if g is not None:
        run_id, metrics = eval_metrics(client, mv)
        if run_id is None:
            raise ConfigError(
                f"version {version} of {name!r} has no evaluation run to gate on: log it with "
                "--eval-run RUN_ID, or attach one with `ponder ops link-eval NAME --version V "
                "--run RUN_ID`"
            )
        lineage = Lineage.from_tags(mv.tags or {}) if PREFIX + "collection" in (mv.tags or {}) \
            else None
        metric = _find_metric(metrics, g.metric, lineage)
        if metric is None:
            raise ConfigError(
                f"the evaluation run {run_id} of version {version} has no metric {g.metric!r}; "
                f"it has: {', '.join(sorted(metrics)) or 'none'}"
            )
        value = float(metrics[metric])
        if not g.passes(value):
            msg = (f"not promoted: {metric}={value:.4f} does not pass {g} "
                   f"({alias} stays {'on version ' + previous if previous else 'unset'})")
            client.set_model_version_tag(name, version, f"ponder.refused.{alias}", json.dumps(
                {"by": who, "at": _now(), "gate": str(g), "value": value, "reason": reason}))
            return Promotion(name, version, alias, False, previous, str(g), metric, value,
                             reason, who, msg)
    client.set_registered_model_alias(name, alias, version)
    set_version_tags(client, name, version, {
        f"ponder.promoted.{alias}.by": who,
        f"ponder.promoted.{alias}.at": _now(),
        f"ponder.promoted.{alias}.reason": reason or "(none given)",
        f"ponder.promoted.{alias}.gate": (f"{g} ({metric}={value:.4f})" if g else "none"),
        f"ponder.promoted.{alias}.previous": previous or "none",
    })
    msg = (f"{name} version {version} is now {alias}"
           + (f" (was version {previous})" if previous and previous != version else "")
           + (f": {metric}={value:.4f} passes {g}" if g else ""))
    return Promotion(name, version, alias, True, previous, str(g) if g else None, metric, value,
                     reason, who, msg)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# ------------------------------------------------------------------------------ compare
@dataclass(frozen=True)
class VersionRow:
    """One version in ``compare``."""

    version: str
    aliases: tuple[str, ...]
    created: str
    collection: str
    catalog_version: int | None
    generator: str
    embedder: str
    eval_run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["aliases"] = list(self.aliases)
        return d


def compare(name: str, home: str | Path | None = None) -> list[VersionRow]:
    """Every version of ``name``, newest first, with aliases, lineage and eval metrics."""
    client = _client(home)
    rm = registered_model(client, name)
    by_version: dict[str, list[str]] = {}
    for a, v in (dict(getattr(rm, "aliases", {}) or {})).items():
        by_version.setdefault(str(v), []).append(a)
    rows = []
    for mv in client.search_model_versions(f"name='{name}'"):
        tags = mv.tags or {}
        run_id, metrics = eval_metrics(client, mv)
        cv = tags.get(PREFIX + "catalog_version")
        rows.append(VersionRow(
            version=str(mv.version),
            aliases=tuple(sorted(by_version.get(str(mv.version), []))),
            created=time.strftime("%Y-%m-%d %H:%M", time.gmtime(mv.creation_timestamp / 1000)),
            collection=tags.get(PREFIX + "collection", ""),
            catalog_version=int(cv) if cv else None,
            generator=tags.get(PREFIX + "generator_id", ""),
            embedder=tags.get(PREFIX + "embedder_id", ""),
            eval_run_id=run_id,
            metrics=metrics,
        ))
    return sorted(rows, key=lambda r: -int(r.version))


def link_eval(name: str, version: str | int, run_id: str,
              home: str | Path | None = None) -> None:
    """Make ``run_id`` the evaluation run of a version (what promotion gates read)."""
    from ponder.ops.model import _check_run  # a cycle: ponder.ops.model imports this module

    client = _client(home)
    mv = model_version(client, name, version=version)
    _check_run(client, run_id)
    client.set_model_version_tag(name, str(mv.version), "ponder.eval_run_id", run_id)


# ------------------------------------------------------------------------------ lineage
def lineage_of(name: str, version: str | int | None = None, alias: str | None = None,
               home: str | Path | None = None) -> dict[str, Any]:
    """The lineage of a version, its promotions, and whether the collection changed since."""

    client = _client(home)
    mv = model_version(client, name, version=version, alias=alias)
    tags = mv.tags or {}
    if PREFIX + "collection" not in tags:
        raise ModelNotFoundError(
            f"version {mv.version} of {name!r} has no Ponder lineage: it was not logged by "
            "ponder ops log-model"
        )
    lin = Lineage.from_tags(tags)
    live = live_version(lin.collection, home)
    if live is None:
        state = "the collection no longer exists here"
    elif live == lin.catalog_version:
        state = "unchanged since the snapshot"
    else:
        state = (f"changed since the snapshot (catalog version {lin.catalog_version} -> "
                 f"{live}): the model answers from its snapshot; log a new version to include "
                 "the changes")
    return {
        "name": name,
        "version": str(mv.version),
        "run_id": mv.run_id,
        "source": mv.source,
        "lineage": lin.to_dict(),
        "eval_run_id": tags.get("ponder.eval_run_id"),
        "promotions": {k: v for k, v in sorted(tags.items())
                       if k.startswith(("ponder.promoted.", "ponder.refused."))},
        "live_collection_version": live,
        "collection_state": state,
    }


__all__ = [
    "ALIASES",
    "Gate",
    "Promotion",
    "VersionRow",
    "check_model_uri",
    "compare",
    "eval_metrics",
    "lineage_of",
    "link_eval",
    "model_version",
    "parse_gate",
    "promote",
    "registered_model",
]
