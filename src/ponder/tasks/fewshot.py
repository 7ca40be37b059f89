"""Few-shot prompting, built the way one builds it by hand: an instruction, worked examples
and the query, separated by a separator line, with the separator as the stop sequence.

::

    Classify the review as positive or negative.      <- instruction

    Input: I loved it                                 <- example
    Output: positive
    ###                                               <- separator
    Input: The food was cold                          <- the query
    Output:                                           <- the model continues here

``select=K`` picks, for each query, the K examples whose inputs are nearest to it by embedding
(cosine) from a larger pool; they are placed most-similar-last, next to the query. The prompt is
raw text by default (``chat=True`` sends it as a user message through the chat template).

>>> from ponder.llm.fake import ScriptedGenerator
>>> g = ScriptedGenerator([" negative\\n###\\nInput: more"])
>>> fs = FewShot([{"input": "I loved it", "output": "positive"}],
...              instruction="Classify the review.", model=g)
>>> fs("The food was cold")
FewShotResult(output='negative', examples=[0])
>>> print(fs.build_prompt("The food was cold"))
Classify the review.
<BLANKLINE>
Input: I loved it
Output: positive
###
Input: The food was cold
Output:
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ponder.errors import ConfigError, LoaderError
from ponder.tasks.base import Task, TaskOptions, TaskResult
from ponder.tasks.classify import unit_rows

Example = tuple[str, str]
ExamplesLike = Sequence[Mapping[str, Any]] | Sequence[Sequence[str]] | str | Path


@dataclass(frozen=True, kw_only=True)
class FewShotOptions(TaskOptions):
    """Options of ``FewShot``. ``examples`` (dicts, pairs, or a .jsonl/.json/.csv file) become
    a tuple of ``(input, output)`` pairs; ``chat=True`` sends the prompt through the chat
    template (default: raw text)."""

    examples: ExamplesLike | None = None
    instruction: str = ""
    input_prefix: str = "Input: "
    output_prefix: str = "Output: "
    separator: str = "###"
    select: int | None = None
    input_field: str = "input"
    output_field: str = "output"
    chat: bool = False
    system: str | None = None

    def __post_init__(self) -> None:
        if self.examples is None:
            raise ConfigError(
                "few-shot needs examples: a list of {'input', 'output'} objects or a .jsonl/"
                ".csv file (--examples FILE)"
            )
        if isinstance(self.examples, str | Path):
            examples = load_examples(self.examples, self.input_field, self.output_field)
        else:
            examples = _coerce(self.examples, self.input_field, self.output_field)
        if not examples:
            raise ConfigError("few-shot needs at least one example; the list is empty")
        if not self.separator.strip():
            raise ConfigError("separator must contain visible characters, e.g. '###'")
        if self.select is not None and (not isinstance(self.select, int) or self.select < 1):
            raise ConfigError(f"select={self.select!r} must be an integer >= 1 (or None for all)")
        self._set(examples=tuple(examples), instruction=self.instruction.strip(),
                  separator=self.separator.strip())


@dataclass(frozen=True, eq=False)
class FewShotResult(TaskResult):
    """The model's ``output`` and the indices of the ``examples`` that were in its prompt."""

    output: str
    examples: list[int]


class FewShot(Task[FewShotOptions, FewShotResult]):
    """``pipeline("few-shot", examples=[...])``: a ``FewShotResult`` per query."""

    task = "few-shot"
    options_type = FewShotOptions
    primary = "examples"
    generative = True
    default_generation: ClassVar[dict[str, Any]] = {"max_new_tokens": 64}

    def _prepare(self) -> None:
        self.examples: list[Example] = list(self.options.examples or ())
        self._pool: np.ndarray | None = None

    @property
    def stop(self) -> tuple[str, ...]:
        """The stop sequences: the separator, and the next input's prefix."""
        stops = [self.options.separator]
        if self.options.input_prefix.strip():
            stops.append("\n" + self.options.input_prefix.strip())
        return tuple(stops)

    def choose(self, query: str) -> list[int]:
        """Indices of the examples for ``query``: all of them, or the ``select`` nearest
        by embedding, least similar first."""
        n = len(self.examples)
        select = self.options.select
        if select is None or select >= n:
            return list(range(n))
        emb = self.embedder
        if self._pool is None:
            self._pool = unit_rows(emb.embed([x for x, _ in self.examples]))
        q = unit_rows(emb.embed([query]))[0]
        sims = self._pool @ q
        top = np.argsort(-sims, kind="stable")[:select]
        return [int(i) for i in top[::-1]]

    def build_prompt(self, query: str, indices: Sequence[int] | None = None) -> str:
        """The prompt text for ``query`` (with the chosen examples)."""
        o = self.options
        chosen = self.choose(query) if indices is None else indices
        blocks = [
            f"{o.input_prefix}{self.examples[i][0]}\n{o.output_prefix}{self.examples[i][1]}"
            for i in chosen
        ]
        blocks.append(f"{o.input_prefix}{query}\n{o.output_prefix.rstrip()}")
        body = f"\n{o.separator}\n".join(blocks)
        return f"{o.instruction}\n\n{body}" if o.instruction else body

    def _run(self, text: str) -> FewShotResult:
        indices = self.choose(text)
        prompt = self.build_prompt(text, indices)
        cfg = self.generation_config(stop=self.stop)
        completion = self.generator.complete(prompt, cfg, system=self.options.system,
                                             raw=not self.options.chat)
        return FewShotResult(completion.text.strip(), indices)


def _coerce(items: Sequence[Any], input_field: str, output_field: str) -> list[Example]:
    out: list[Example] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, Mapping):
            if input_field not in item or output_field not in item:
                raise ConfigError(
                    f"example {n} has no {input_field!r} and {output_field!r} keys (it has "
                    f"{sorted(item)}): set input_field/output_field (--input-field/--output-field)"
                )
            pair = (str(item[input_field]), str(item[output_field]))
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            pair = (str(item[0]), str(item[1]))
        else:
            raise ConfigError(
                f"example {n} is {item!r}: give {{'{input_field}': ..., '{output_field}': ...}} "
                "objects or (input, output) pairs"
            )
        if not pair[0].strip() or not pair[1].strip():
            raise ConfigError(f"example {n} has an empty input or output: fill it or remove it")
        out.append(pair)
    return out


def load_examples(
    path: str | Path, input_field: str = "input", output_field: str = "output"
) -> list[Example]:
    """Examples from a ``.jsonl``, ``.json`` (a list of objects) or ``.csv`` file.

    A row without both fields is an error naming the row: the examples shape every prompt, so
    none is skipped silently.
    """
    p = Path(path)
    if not p.is_file():
        raise LoaderError(str(p), "not found: give an existing .jsonl, .json or .csv file")
    text = p.read_text(encoding="utf-8-sig")
    suffix = p.suffix.lower()
    rows: list[Any]
    if suffix == ".jsonl":
        rows = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise LoaderError(str(p), f"line {n} is not valid JSON ({e.msg})") from None
    elif suffix == ".json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as e:
            raise LoaderError(str(p), f"is not valid JSON ({e.msg} at line {e.lineno})") from None
        if not isinstance(rows, list):
            raise LoaderError(str(p), "must hold a JSON list of {input, output} objects")
    elif suffix in (".csv", ".tsv"):
        rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
    else:
        raise LoaderError(str(p), f"has suffix {suffix!r}: use .jsonl, .json or .csv")
    try:
        return _coerce(rows, input_field, output_field)
    except ConfigError as e:
        raise LoaderError(str(p), str(e)) from None


__all__ = ["FewShot", "FewShotOptions", "FewShotResult", "load_examples"]
