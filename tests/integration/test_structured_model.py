"""Schema- and grammar-constrained decoding on the real default model (SmolLM2-135M via
llama.cpp): the output always parses and validates, where the free output does not."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 30},
                   "year": {"type": "integer"}},
    "required": ["name", "year"],
}
PROMPT = ("Extract the person's name and the year as JSON.\n"
          "Text: In 1998, Maria Lopez moved to Seville to open a bakery.")


def test_json_schema_output_parses_and_validates(gen) -> None:  # type: ignore[no-untyped-def]
    value = gen.complete_json(PROMPT, SCHEMA, max_new_tokens=40)
    assert set(value) == {"name", "year"} and isinstance(value["year"], int)


def test_grammar_forces_the_allowed_words(gen) -> None:  # type: ignore[no-untyped-def]
    c = gen.complete("Is the sky green? Answer.", grammar='root ::= "yes" | "no"',
                     max_new_tokens=4)
    assert c.text in ("yes", "no") and c.finish_reason == "stop"
    free = gen.complete(PROMPT, max_new_tokens=12).text
    with pytest.raises(json.JSONDecodeError):  # unconstrained, it writes prose first
        json.loads(free)
