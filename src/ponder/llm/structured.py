"""Structured output: JSON schemas checked up front, turned into GBNF, outputs parsed and
validated.

``Generator.generate(..., json_schema=schema)`` (or ``grammar=GBNF``) constrains decoding on
every backend: the logits backends mask the tokens the grammar forbids (``ponder.llm.grammar``),
the OpenAI-compatible backend sends ``response_format`` (``json_schema``) or the server's
``grammar`` field, and the scripted fake checks its reply against the grammar. The grammar of a
schema is written by llama.cpp's own converter (``llama_cpp.llama_grammar``).

>>> schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
>>> check_schema(schema) == schema
True
>>> grammar_for(schema=schema).matches('{"n": 42}')
True
>>> parse_json('{"n": 4}', schema)
{'n': 4}
>>> check_schema({"type": "integr"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ConfigError: invalid JSON Schema at type: 'integr' is not valid under any of ...
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, GenerationError
from ponder.llm.grammar import Grammar


def load_schema(value: Any) -> dict[str, Any] | bool:
    """A schema from a dict, a JSON string or a path to a ``.json`` file."""
    if isinstance(value, dict | bool):
        return value
    if isinstance(value, Path) or (isinstance(value, str) and not value.lstrip().startswith("{")):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ConfigError(f"JSON schema file {value} not found: give a path to a .json file "
                              "or the schema itself as a JSON object")
        value = path.read_text(encoding="utf-8")
    try:
        loaded = json.loads(value)
    except (json.JSONDecodeError, TypeError) as e:
        raise ConfigError(f"the JSON schema is not valid JSON ({e}): fix the file") from None
    if not isinstance(loaded, dict | bool):
        raise ConfigError("a JSON schema must be a JSON object, e.g. {\"type\": \"object\"}")
    return loaded


def check_schema(schema: Any) -> dict[str, Any] | bool:
    """Return ``schema`` if it is valid JSON Schema, else ``ConfigError`` naming the problem
    (the keyword path and what is wrong)."""
    schema = load_schema(schema)
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "the top level"
        raise ConfigError(f"invalid JSON Schema at {where}: {e.message}: fix the schema") from None
    return schema


@lru_cache(maxsize=64)
def _schema_gbnf(text: str) -> str:
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ConfigError(f"converting a JSON schema to a grammar needs llama-cpp-python ({e})"
                          ) from None
    try:
        return str(json_schema_to_gbnf(text))
    except (KeyError, ValueError, TypeError, NotImplementedError, AssertionError) as e:
        raise ConfigError(f"this JSON schema cannot be turned into a grammar ({e!r}): simplify "
                          "it (no remote $ref, no unsupported keywords)") from None


def schema_to_gbnf(schema: Any) -> str:
    """The GBNF grammar of a (checked) JSON schema, from llama.cpp's converter."""
    schema = check_schema(schema)
    if schema is True or schema == {}:
        schema = {"type": "object"}
    if schema is False:
        raise ConfigError("the schema `false` accepts nothing: give a schema some JSON can meet")
    return _schema_gbnf(json.dumps(schema))  # key order kept: it is the order of the output


def grammar_for(*, schema: Any = None, grammar: str | None = None) -> Grammar:
    """The parsed ``Grammar`` for a JSON schema or a GBNF text (exactly one of them)."""
    if (schema is None) == (grammar is None):
        raise ConfigError("give either json_schema or grammar, not both (and not neither)")
    if grammar is not None:
        return Grammar.parse(grammar)
    return Grammar.parse(schema_to_gbnf(schema))


def load_grammar(value: str | Path) -> str:
    """GBNF text from a ``.gbnf`` file or the text itself (checked: it must parse)."""
    text = str(value)
    if isinstance(value, Path) or ("::=" not in text and Path(text).expanduser().is_file()):
        path = Path(text).expanduser()
        text = path.read_text(encoding="utf-8")
    elif "::=" not in text:
        raise ConfigError(f"grammar file {value} not found: give a .gbnf file or GBNF text")
    Grammar.parse(text)
    return text


def parse_json(text: str, schema: Any = None, *, finish_reason: str | None = None) -> Any:
    """Parse a model's JSON output and validate it against ``schema``; ``GenerationError``
    says why it fails (cut by ``max_new_tokens``, bad JSON, or the failing keyword)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        hint = (" (generation stopped at max_new_tokens: raise it)"
                if finish_reason == "length" else "")
        raise GenerationError(f"the output is not valid JSON: {e}{hint}") from None
    if schema is not None:
        import jsonschema

        schema = load_schema(schema)
        try:
            jsonschema.validate(value, schema)
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path) or "the top level"
            raise GenerationError(f"the output does not match the schema at {where}: "
                                  f"{e.message}") from None
    return value


__all__ = ["check_schema", "grammar_for", "load_grammar", "load_schema", "parse_json",
           "schema_to_gbnf"]
