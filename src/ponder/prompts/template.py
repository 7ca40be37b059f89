"""Prompt templates that fill variables and nothing else.

``{name}`` marks a variable; ``{{`` and ``}}`` are literal braces. Filling never evaluates
anything (no attribute access, indexing or format specs, unlike ``str.format``), every variable
must be given, and unknown ones are refused, so a typo cannot silently produce a wrong prompt.

>>> t = PromptTemplate("Translate to {lang}:\\n{text}")
>>> t.variables
('lang', 'text')
>>> t.fill(lang="German", text="Good morning")
'Translate to German:\\nGood morning'
>>> PromptTemplate("{a.__class__}")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: template variable '{a.__class__}' is not a plain name: ...
>>> t.fill(lang="German")
Traceback (most recent call last):
...
ponder.errors.ConfigError: template needs variable(s) ['text']; give them as keyword arguments
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ponder.errors import ConfigError

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    variables: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names: list[str] = []
        for m in _TOKEN.finditer(self.text):
            tok = m.group(0)
            if tok in ("{{", "}}"):
                continue
            if tok in ("{", "}"):
                raise ConfigError(
                    f"unbalanced {tok!r} at char {m.start()} of the template; write {tok * 2} "
                    "for a literal brace"
                )
            name = m.group(1)
            if not _NAME.match(name):
                raise ConfigError(
                    f"template variable {tok!r} is not a plain name: use letters, digits and '_'"
                )
            if name not in names:
                names.append(name)
        object.__setattr__(self, "variables", tuple(names))

    def fill(self, **values: Any) -> str:
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise ConfigError(
                f"template needs variable(s) {missing}; give them as keyword arguments"
            )
        extra = sorted(set(values) - set(self.variables))
        if extra:
            raise ConfigError(
                f"template has no variable(s) {extra}; it takes {list(self.variables)}"
            )

        def sub(m: re.Match[str]) -> str:
            tok = m.group(0)
            if tok == "{{":
                return "{"
            if tok == "}}":
                return "}"
            return str(values[m.group(1)])

        return _TOKEN.sub(sub, self.text)
