"""Moderation: PII with checksums, profanity, policies, toxicity and ``ponder moderate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.errors import ConfigError
from ponder.llm.fake import ScriptedGenerator
from ponder.moderate import Policy, find_pii, find_profanity, moderate, redact
from ponder.moderate.pii import dni_ok, iban_ok, luhn_ok, nir_ok


@pytest.mark.parametrize(("text", "kind", "found"), [
    ("write to jane.doe+news@mail.example.co.uk today", "email",
     "jane.doe+news@mail.example.co.uk"),
    ("card 4111 1111 1111 1111 please", "credit_card", "4111 1111 1111 1111"),
    ("amex 3782-822463-10005.", "credit_card", "3782-822463-10005"),
    ("pay DE89 3704 0044 0532 0130 00 now", "iban", "DE89 3704 0044 0532 0130 00"),
    ("IBAN: FR1420041010050500013M02606", "iban", "FR1420041010050500013M02606"),
    ("server 192.168.10.254 is down", "ip_address", "192.168.10.254"),
    ("v6 2001:db8:85a3::8a2e:370:7334 too", "ip_address", "2001:db8:85a3::8a2e:370:7334"),
    ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
    ("call (415) 555-2671", "phone", "(415) 555-2671"),
    ("SSN 078-05-1120 on file", "national_id", "078-05-1120"),
    ("DNI 12345678Z", "national_id", "12345678Z"),
    ("NIE X1234567L", "national_id", "X1234567L"),
])
def test_each_pii_kind_is_found(text: str, kind: str, found: str) -> None:
    hits = [(m.kind, m.text) for m in find_pii(text)]
    assert (kind, found) in hits, hits


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 shipped",          # Luhn fails
    "pay DE88 3704 0044 0532 0130 00 now",        # IBAN check digits wrong
    "version 1.2.3 and 300.1.1.1",                # not an address / octet > 255
    "SSN 000-12-3456 and 666-12-3456",            # invalid areas
    "DNI 12345678A",                              # wrong letter
    "on 2024-01-15 at 10:30, room 12",            # dates and small numbers
])
def test_checksum_invalid_numbers_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_checksum_functions() -> None:
    assert luhn_ok("4539 1488 0343 6467") and not luhn_ok("4539 1488 0343 6468")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 3")
    assert dni_ok("", "12345678", "Z") and not dni_ok("", "12345678", "Y")
    assert nir_ok(("2", "55", "08", "14", "168", "025", "38"))
    assert not nir_ok(("2", "55", "08", "14", "168", "025", "39"))


def test_redact_replaces_each_span() -> None:
    text = "Mail bob@example.com or 10.0.0.7"
    assert redact(text) == "Mail [EMAIL] or [IP_ADDRESS]"


def test_profanity_uses_the_maintained_list_with_substitutions() -> None:
    hits = [m.word for m in find_profanity("This is sh1t and a DAMN mess")]
    assert hits == ["shit", "damn"]
    assert find_profanity("Assessment of the classic Scunthorpe pass") == []


def test_policy_parsing_and_errors(tmp_path: Path) -> None:
    p = Policy.parse("pii=flag,profanity=block")
    assert p.action("iban") == "flag" and p.action("profanity") == "block"
    f = tmp_path / "p.toml"
    f.write_text('[policy]\nemail = "allow"\ntoxicity_threshold = 0.8\n')
    p = Policy.parse(str(f))
    assert p.action("email") == "allow" and p.toxicity_threshold == 0.8
    with pytest.raises(ConfigError, match="did you mean 'email'"):
        Policy.parse({"emial": "flag"})
    with pytest.raises(ConfigError, match="unknown action 'hide'"):
        Policy.parse({"email": "hide"})


def test_moderate_applies_actions() -> None:
    text = "Damn, send 4111111111111111 to a@b.org"
    r = moderate(text, {"profanity": "flag", "email": "allow"}, toxicity=False)
    assert r.output == "Damn, send [CREDIT_CARD] to a@b.org"
    assert [f.category for f in r.findings] == ["profanity", "credit_card"] and r.flagged
    assert moderate(text, "credit_card=block", toxicity=False).output == ""


def test_toxicity_from_the_llm_when_no_classifier() -> None:
    judge = ScriptedGenerator(logprobs={"yes": -0.1, "no": -3.0})
    r = moderate("you are worthless", "toxicity=block", toxicity_method="llm", model=judge)
    assert r.blocked and r.toxicity is not None and r.toxicity > 0.9
    assert r.toxicity_method == "llm:scripted"
    assert judge.calls == []  # scored by log-probabilities, nothing generated
    calm = ScriptedGenerator(logprobs={"yes": -4.0, "no": -0.05})
    r = moderate("have a nice day", "toxicity=block", toxicity_method="llm", model=calm)
    assert not r.blocked and r.toxicity is not None and r.toxicity < 0.1
    with pytest.raises(ConfigError, match="toxicity method 'magic'"):
        moderate("x", toxicity_method="magic", model=calm)


def test_cli_moderate_plain_json_and_file(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["moderate", "mail me: x@y.com", "--no-toxicity"])
    assert r.exit_code == 0, r.output
    assert "[EMAIL]" in r.stdout
    f = tmp_path / "t.txt"
    f.write_text("IP 8.8.8.8")
    r = CliRunner().invoke(app, ["moderate", "--input", str(f), "--no-toxicity", "--json",
                                 "--policy", "ip_address=block"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["blocked"] is True and d["findings"][0]["category"] == "ip_address"
    r = CliRunner().invoke(app, ["moderate", "x", "--policy", "bogus=flag", "--no-toxicity"])
    assert r.exit_code != 0 and "unknown moderation category" in str(r.exception)
