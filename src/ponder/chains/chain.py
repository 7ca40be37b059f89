"""``Chain``: typed steps run in order, checked when the chain is built.

Building a chain checks that every step's inputs are produced by an earlier step or given by
the caller (and that declared types agree), so a missing field fails before anything runs,
naming the step and the field. ``run`` returns a ``ChainResult`` with every step's input,
output and time (the trace).

>>> from ponder.chains.steps import FunctionStep, PromptStep
>>> from ponder.llm.fake import ScriptedGenerator
>>> def shout(draft: str) -> str:
...     return draft.upper()
>>> chain = Chain([PromptStep("draft", "About {topic}", output="draft",
...                           model=ScriptedGenerator(["cats purr"])),
...                FunctionStep(shout, output="loud")], inputs={"topic": str})
>>> chain.run({"topic": "cats"}).outputs["loud"]
'CATS PURR'
>>> Chain([FunctionStep(shout)], inputs={"topic": str})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: step 'shout' needs field 'draft', which no earlier step produces ...
"""

from __future__ import annotations

import time
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from ponder.chains.steps import ChainStopped, Step, fields_of
from ponder.errors import ConfigError, InputError, PonderError


@dataclass(frozen=True)
class StepRecord:
    """One step of a run: what it read, what it wrote, how long it took, how it ended."""

    name: str
    kind: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    seconds: float
    status: str = "ok"  # ok | stopped | error
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "inputs": self.inputs,
                "outputs": self.outputs, "seconds": round(self.seconds, 4),
                "status": self.status, "error": self.error}


@dataclass(frozen=True)
class ChainResult:
    """``status``: ``ok``, ``stopped`` (a step ended the chain, ``reason`` says why) or
    ``error``; ``outputs``: every field known at the end (caller's and steps')."""

    outputs: dict[str, Any]
    trace: list[StepRecord] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "outputs": self.outputs,
                "trace": [s.to_dict() for s in self.trace], "seconds": round(self.seconds, 4)}

    def rich_tree(self) -> Any:
        """The trace as a Rich tree: one branch per step with its inputs, outputs and time."""

        tree = Tree(f"[bold]chain[/] {self.status} in {self.seconds:.2f}s"
                    + (f": {escape(self.reason)}" if self.reason else ""))
        for s in self.trace:
            color = {"ok": "green", "stopped": "yellow"}.get(s.status, "red")
            br = tree.add(f"[{color}]{escape(s.name)}[/] ({s.kind}) {s.seconds:.3f}s")
            ins = br.add("[dim]input[/]")
            for k, v in s.inputs.items():
                ins.add(f"{escape(k)} = {escape(_short(v))}")
            outs = br.add("[dim]output[/]")
            for k, v in s.outputs.items():
                outs.add(f"{escape(k)} = {escape(_short(v))}")
            if s.error:
                br.add(f"[red]{escape(s.error)}[/]")
        return tree


def _short(v: Any, n: int = 160) -> str:
    s = v if isinstance(v, str) else repr(v)
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def _compatible(produced: Any, wanted: Any) -> bool:
    if produced is Any or wanted is Any:
        return True
    p = typing.get_origin(produced) or produced
    w = typing.get_origin(wanted) or wanted
    if not isinstance(p, type) or not isinstance(w, type):
        return True  # unions and other forms are not checked
    if w is float and p is int:
        return True
    return issubclass(p, w)


class Chain:
    """Steps run in order over a shared set of named fields (see the module docstring).

    ``inputs``: what the caller gives: a ``{name: type}`` mapping, a dataclass or pydantic
    model type, or a list of names (typed ``Any``).
    """

    def __init__(self, steps: Sequence[Step], *, inputs: Any = None, name: str = "chain") -> None:
        if not steps:
            raise ConfigError("a chain needs at least one step")
        self.name = name
        self.steps = list(steps)
        if inputs is None:
            inputs = {}
        if isinstance(inputs, list | tuple):
            inputs = {k: Any for k in inputs}
        self.inputs: dict[str, Any] = fields_of(inputs)
        self._check()

    def _check(self) -> None:
        known: dict[str, tuple[Any, str]] = {k: (t, "the caller") for k, t in self.inputs.items()}
        names: set[str] = set()
        for step in self.steps:
            if step.name in names:
                raise ConfigError(f"two steps are named {step.name!r}: give each a unique name")
            names.add(step.name)
            for fname, ftype in step.input_fields().items():
                if fname not in known:
                    have = ", ".join(sorted(known)) or "nothing"
                    raise ConfigError(
                        f"step {step.name!r} needs field {fname!r}, which no earlier step "
                        f"produces and the caller does not give (available: {have}): add it "
                        "to the chain's inputs or to an earlier step's outputs"
                    )
                produced, source = known[fname]
                if not _compatible(produced, ftype):
                    raise ConfigError(
                        f"step {step.name!r} needs {fname!r} as {getattr(ftype, '__name__', ftype)}"
                        f" but {source} gives {getattr(produced, '__name__', produced)}"
                    )
            for fname, ftype in step.output_fields().items():
                known[fname] = (ftype, f"step {step.name!r}")
        self.outputs = {k: t for k, (t, _) in known.items()}

    def _caller_values(self, values: Any) -> dict[str, Any]:
        if values is None:
            values = {}
        if not isinstance(values, dict):
            try:
                values = {k: getattr(values, k) for k in fields_of(type(values))}
            except ConfigError:
                raise InputError("chain inputs must be a dict, a dataclass or a pydantic model"
                                 ) from None
        missing = [k for k in self.inputs if k not in values]
        if missing:
            raise InputError(f"chain {self.name!r} needs input(s) {missing}: give them, e.g. "
                             f"--input '{{\"{missing[0]}\": \"...\"}}'")
        for k, t in self.inputs.items():
            if isinstance(t, type) and t is not Any and not _compatible(type(values[k]), t):
                raise InputError(f"input {k!r} must be {t.__name__}, not "
                                 f"{type(values[k]).__name__}")
        return dict(values)

    def run(self, values: Any = None) -> ChainResult:
        """Run every step; a ``PonderError`` in a step ends the run with status ``error``
        (the trace keeps what ran), a ``ChainStopped`` with status ``stopped``."""
        t0 = time.perf_counter()
        state = self._caller_values(values)
        trace: list[StepRecord] = []
        for step in self.steps:
            inputs = {k: state[k] for k in step.input_fields()}
            ts = time.perf_counter()
            try:
                out = step.run(state)
            except ChainStopped as stop:
                state.update(stop.outputs)
                trace.append(StepRecord(step.name, step.kind, inputs, stop.outputs,
                                        time.perf_counter() - ts, "stopped", stop.reason))
                return ChainResult(state, trace, "stopped", f"{step.name}: {stop.reason}",
                                   time.perf_counter() - t0)
            except PonderError as e:
                trace.append(StepRecord(step.name, step.kind, inputs, {},
                                        time.perf_counter() - ts, "error", str(e)))
                return ChainResult(state, trace, "error", f"{step.name}: {e}",
                                   time.perf_counter() - t0)
            state.update(out)
            trace.append(StepRecord(step.name, step.kind, inputs, out, time.perf_counter() - ts))
        return ChainResult(state, trace, "ok", "", time.perf_counter() - t0)

    def describe(self) -> list[dict[str, Any]]:
        """Each step with its kind and typed inputs/outputs."""
        def names(d: dict[str, Any]) -> dict[str, str]:
            return {k: getattr(v, "__name__", str(v)) for k, v in d.items()}
        return [{"name": s.name, "kind": s.kind, "what": s.describe(),
                 "inputs": names(s.input_fields()), "outputs": names(s.output_fields())}
                for s in self.steps]


__all__ = ["Chain", "ChainResult", "StepRecord"]
