"""Lineage: what every answer of a logged model depends on, recorded as model-version tags.

- the collection and its catalog version (the snapshot the model answers from),
- the embedder's ``model_id`` (the vectors' model),
- the generator: its spec, ``model_id`` and the sha256 of its weights file (GGUF),
- the prompt template version: a hash of the RAG prompt texts (``ponder.rag.prompt``), so a
  changed prompt is a new version even when the package version is the same,
- the ask options and the Ponder version.

>>> lin = Lineage(collection="kb", catalog_version=7, embedder_id="hash-64",
...               generator_spec="fake", generator_id="scripted", generator_sha256="",
...               prompt_template_version="p-1234", ask_options={"k": 3})
>>> tags = lin.to_tags()
>>> tags["ponder.lineage.catalog_version"], Lineage.from_tags(tags) == lin
('7', True)
>>> len(prompt_template_version())
16
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ponder.prompts.template import PromptTemplate
from ponder.rag import prompt as rag_prompt

PREFIX = "ponder.lineage."


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prompt_template_version() -> str:
    """A short hash of every RAG prompt text (system, answer, naive, map, refine, rerank,
    closed book, the no-answer sentence): it changes exactly when a prompt changes."""

    texts = []
    for name in sorted(vars(rag_prompt)):
        value = getattr(rag_prompt, name)
        if isinstance(value, PromptTemplate):
            texts.append(f"{name}={value.text}")
    texts.append(f"NO_ANSWER={rag_prompt.NO_ANSWER}")
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Lineage:
    """What a model version's answers depend on (see the module docstring)."""

    collection: str
    catalog_version: int
    embedder_id: str
    generator_spec: str
    generator_id: str
    generator_sha256: str
    prompt_template_version: str
    ask_options: dict[str, Any] = field(default_factory=dict)
    ponder_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_tags(self) -> dict[str, str]:
        """Model-version tags: ``ponder.lineage.<field>`` (options as JSON)."""
        out = {}
        for key, value in self.to_dict().items():
            text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
            out[PREFIX + key] = text
        return out

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> Lineage:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = tags.get(PREFIX + f.name)
            if raw is None:
                continue
            if f.name == "catalog_version":
                values[f.name] = int(raw)
            elif f.name == "ask_options":
                values[f.name] = json.loads(raw)
            else:
                values[f.name] = raw
        return cls(**values)


__all__ = ["PREFIX", "Lineage", "file_sha256", "prompt_template_version"]
