"""Structured output: the GBNF engine, JSON schemas, constrained decoding on a logits model,
the scripted fake, the OpenAI payload and ``ponder generate --json-schema/--grammar``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError, GenerationError
from ponder.llm.config import GenerationConfig
from ponder.llm.fake import ScriptedGenerator, ToyLanguageModel
from ponder.llm.grammar import Grammar
from ponder.llm.openai_compat import OpenAICompatGenerator
from ponder.llm.structured import check_schema, grammar_for, parse_json

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 4},
                   "age": {"type": "integer"},
                   "pet": {"enum": ["cat", "dog"]}},
    "required": ["name", "age", "pet"],
}


# ---------------------------------------------------------------- the grammar engine

@pytest.mark.parametrize(("grammar", "yes", "no"), [
    ('root ::= "a" | "bc"', ["a", "bc"], ["", "b", "abc"]),
    ("root ::= [a-c]+ [^a-z]", ["ab1", "c_"], ["ab", "1", "abz"]),
    ('root ::= x{2,3}\nx ::= "ab"  # a comment', ["abab", "ababab"], ["ab", "abababab"]),
    ('root ::= ("x" | "y")* "!"?', ["", "xyx", "xy!"], ["!x", "z"]),
    ('root ::= "\\x41\\u00e9\\n" .', ["Aé\nz"], ["Ae\nz"]),
    ("root ::= [0-9]{2,}", ["12", "12345"], ["1"]),
])
def test_grammar_matches_exactly_its_language(grammar: str, yes: list[str],
                                              no: list[str]) -> None:
    g = Grammar.parse(grammar)
    assert all(g.matches(s) for s in yes), [s for s in yes if not g.matches(s)]
    assert not any(g.matches(s) for s in no), [s for s in no if g.matches(s)]


@pytest.mark.parametrize(("text", "needle"), [
    ('root ::= item', "'item' is used but never defined"),
    ('start ::= "a"', "no 'root' rule"),
    ('root ::= "a', "unterminated string"),
    ('root = "a"', "expected '::='"),
    ("root ::= root \"a\"", "left-recursive"),
    ('root ::= "a"\nroot ::= "b"', "defined twice"),
])
def test_bad_grammars_are_named(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Grammar.parse(text)


def test_schema_grammar_accepts_valid_and_rejects_invalid_json() -> None:
    g = grammar_for(schema=SCHEMA)
    assert g.matches('{"name": "Ann", "age": 31, "pet": "cat"}')
    assert not g.matches('{"name": "Ann", "age": 31}')  # missing required
    assert not g.matches('{"name": "Ann", "age": 3.5, "pet": "cat"}')
    assert not g.matches('{"name": "Annabel", "age": 3, "pet": "cat"}')  # maxLength
    assert not g.matches('{"name": "Ann", "age": 3, "pet": "cow"}')


@pytest.mark.parametrize(("schema", "needle"), [
    ({"type": "integr"}, "invalid JSON Schema at type"),
    ({"type": "object", "required": "name"}, "invalid JSON Schema at required"),
    ('{"type": ', "not valid JSON"),
])
def test_invalid_schemas_are_named(schema: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        check_schema(schema)


def test_parse_json_says_why_output_fails() -> None:
    with pytest.raises(GenerationError, match="max_new_tokens"):
        parse_json('{"name": "A', SCHEMA, finish_reason="length")
    with pytest.raises(GenerationError, match="at the top level: 'age' is a required"):
        parse_json('{"name": "A", "pet": "cat"}', SCHEMA)


def test_config_checks_constraints() -> None:
    with pytest.raises(ConfigError, match="not both"):
        GenerationConfig(json_schema=SCHEMA, grammar='root ::= "a"').validate()
    with pytest.raises(ConfigError, match="not beam search"):
        GenerationConfig(json_schema=SCHEMA, strategy="beam").validate()
    cfg = GenerationConfig(json_schema=json.dumps(SCHEMA)).validate()
    assert cfg.json_schema == SCHEMA and cfg.to_dict()["json_schema"] == SCHEMA
    assert "grammar" not in GenerationConfig().to_dict()


# ---------------------------------------------------------------- constrained decoding

def _json_toy() -> ToyLanguageModel:
    """A bigram model over JSON fragments whose every row is uniform: unconstrained it
    writes junk; only the grammar can make it write valid JSON."""
    vocab = ['{', '}', '"', 'name', 'age', 'pet', ':', ' ', ',', 'A', 'nn', '3', '1', 'cat',
             'dog', 'cow', '"cat"', '": ', 'x']
    row = {t: 1.0 for t in [*vocab, "<eos>"]}
    return ToyLanguageModel({"<s>": row, **{t: row for t in vocab}}, context_window=512)


def test_unconstrained_toy_writes_invalid_json() -> None:
    text = _json_toy().complete("", max_new_tokens=30, strategy="sample", seed=0).text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize("seed", range(6))
def test_schema_constrained_sampling_always_validates(seed: int) -> None:
    c = _json_toy().complete("", max_new_tokens=120, strategy="sample", seed=seed,
                             temperature=1.0, json_schema=SCHEMA)
    assert c.finish_reason == "stop", c.text
    value = c.json()
    assert set(value) == {"name", "age", "pet"} and value["pet"] in ("cat", "dog")


def test_grammar_changes_greedy_choice_on_the_toy_model() -> None:
    toy = ToyLanguageModel()
    assert toy.complete("the").text == " cat sat"
    assert toy.complete("the", grammar='root ::= " dog" " barked"?').text == " dog barked"


def test_scripted_generator_checks_its_reply_against_the_schema() -> None:
    ok = ScriptedGenerator(['{"name": "Ann", "age": 3, "pet": "dog"}'])
    assert ok.complete_json("Extract", SCHEMA) == {"name": "Ann", "age": 3, "pet": "dog"}
    bad = ScriptedGenerator(["not json"])
    with pytest.raises(GenerationError, match="does not match the requested JSON schema"):
        bad.complete("Extract", json_schema=SCHEMA)


def test_openai_payload_carries_response_format_and_grammar() -> None:
    g = OpenAICompatGenerator("http://127.0.0.1:9/v1", "m")
    _, body = g._payload([], g.resolve_config(json_schema=SCHEMA), 0)
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    _, body = g._payload("x", g.resolve_config(grammar='root ::= "a"'), 0)
    assert body["grammar"] == 'root ::= "a"' and "response_format" not in body


# ---------------------------------------------------------------- CLI

def test_cli_generate_with_grammar_file(tmp_path: Path) -> None:
    gbnf = tmp_path / "g.gbnf"
    gbnf.write_text('root ::= " dog" " barked"?\n')
    r = CliRunner().invoke(app, ["generate", "the", "--model", "toy", "--raw",
                                 "--grammar", str(gbnf)])
    assert r.exit_code == 0, r.output
    assert "dog barked" in r.stdout


def test_cli_generate_json_schema_output_and_errors(tmp_path: Path) -> None:
    schema = tmp_path / "s.json"
    schema.write_text(json.dumps({"type": "object", "required": ["a"]}))
    r = CliRunner().invoke(app, ["generate", "x", "--model", "fake", "--json-schema",
                                 str(schema), "--json"])
    assert r.exit_code != 0
    assert "does not match the requested JSON schema" in str(r.exception)
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "integr"}')
    r = CliRunner().invoke(app, ["generate", "x", "--model", "fake", "--json-schema", str(bad)])
    assert "invalid JSON Schema at type" in str(r.exception)


def test_token_constraint_handles_utf8_split_across_tokens() -> None:
    import numpy as np

    from ponder.llm.grammar import TokenConstraint, Vocabulary

    # token 0 ends the sequence; "é" exists only as two byte tokens
    vocab = Vocabulary([b"", b"\xc3", b"\xa9", b"a", b"b", b"ab"], eog_ids=[0])
    tc = TokenConstraint(Grammar.parse('root ::= "\\u00e9" "a"'), vocab)
    chosen = []
    for _ in range(4):
        masked = tc.mask(np.array([5.0, 0.0, 1.0, 4.0, 3.0, 2.0], dtype=np.float32))
        tok = int(np.argmax(masked))
        chosen.append(tok)
        if tok == 0:
            break
        tc.accept(tok)
    assert chosen == [1, 2, 3, 0]  # é (two byte tokens), a, then end of sequence
    with pytest.raises(GenerationError, match="not allowed"):
        TokenConstraint(Grammar.parse('root ::= "a"'), vocab).accept(4)
