"""Moderation policies: one action per category.

Actions: ``allow`` (ignore), ``flag`` (report, keep the text), ``redact`` (replace the span
by ``[KIND]``), ``block`` (the whole text is refused). Categories: ``profanity``, each PII kind
(``email``, ``phone``, ``credit_card``, ``iban``, ``ip_address``, ``national_id``) and
``toxicity`` (whole-text: ``redact`` means ``block`` there).

>>> p = Policy.parse({"email": "flag", "toxicity": "block"})
>>> p.action("email"), p.action("credit_card"), p.action("toxicity")
('flag', 'redact', 'block')
>>> Policy.parse({"emial": "flag"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: unknown moderation category 'emial' (did you mean 'email'?)...
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError
from ponder.moderate.pii import KINDS

ACTIONS = ("allow", "flag", "redact", "block")
CATEGORIES = ("profanity", *KINDS, "toxicity")
DEFAULTS: dict[str, str] = {
    "profanity": "redact", **{k: "redact" for k in KINDS}, "toxicity": "flag",
}


@dataclass(frozen=True)
class Policy:
    """Actions per category (missing ones take ``DEFAULTS``) and the toxicity threshold."""

    actions: dict[str, str] = field(default_factory=dict)
    toxicity_threshold: float = 0.5

    @classmethod
    def parse(cls, spec: Any = None) -> Policy:
        """From a mapping, a ``cat=action,cat=action`` string, or a ``.toml``/``.json`` file
        (keys as in the mapping; ``toxicity_threshold`` too)."""
        if spec is None:
            return cls()
        if isinstance(spec, Policy):
            return spec
        if isinstance(spec, str | Path) and Path(str(spec)).suffix in (".toml", ".json"):
            path = Path(spec)
            if not path.is_file():
                raise ConfigError(f"policy file {path} not found")
            text = path.read_text(encoding="utf-8")
            try:
                spec = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
            except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
                raise ConfigError(f"policy file {path} cannot be parsed: {e}") from None
            spec = spec.get("policy", spec)
        elif isinstance(spec, str):
            items = {}
            for part in filter(None, (p.strip() for p in spec.split(","))):
                key, sep, value = part.partition("=")
                if not sep:
                    raise ConfigError(f"policy item {part!r}: write category=action, e.g. "
                                      "email=flag")
                items[key.strip()] = value.strip()
            spec = items
        if not isinstance(spec, dict):
            raise ConfigError("a policy is a mapping {category: action}")
        spec = dict(spec)
        threshold = float(spec.pop("toxicity_threshold", 0.5))
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"toxicity_threshold={threshold} must be within [0, 1]")
        actions: dict[str, str] = {}
        for key, value in spec.items():
            cats = KINDS if key == "pii" else (key,)
            if key != "pii" and key not in CATEGORIES:
                close = difflib.get_close_matches(key, [*CATEGORIES, "pii"], n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown moderation category {key!r}{hint}; categories: "
                                  f"{', '.join(CATEGORIES)}, or pii for every PII kind")
            if value not in ACTIONS:
                raise ConfigError(f"unknown action {value!r} for {key}: use one of "
                                  f"{', '.join(ACTIONS)}")
            for c in cats:
                actions[c] = value
        return cls(actions, threshold)

    def action(self, category: str) -> str:
        return self.actions.get(category, DEFAULTS[category])

    def to_dict(self) -> dict[str, Any]:
        return {**{c: self.action(c) for c in CATEGORIES},
                "toxicity_threshold": self.toxicity_threshold}


__all__ = ["ACTIONS", "CATEGORIES", "DEFAULTS", "Policy"]
