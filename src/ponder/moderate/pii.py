"""PII detection and redaction: e-mail, phone, credit card (Luhn), IBAN (mod 97), IP
addresses, and national ids that carry a check (US SSN rules, Spanish DNI/NIE letter, French
NIR key).

Numbers are only reported when their checksum holds, so a 16-digit order number or a
mistyped IBAN is not flagged as a card or an account.

>>> [m.kind for m in find_pii("Mail ann@example.org, card 4111 1111 1111 1111, "
...                           "not 4111 1111 1111 1112")]
['email', 'credit_card']
>>> redact("IBAN GB82 WEST 1234 5698 7654 32 from 10.0.0.1")
'IBAN [IBAN] from [IP_ADDRESS]'
>>> luhn_ok("79927398713"), iban_ok("GB82WEST12345698765432"), iban_ok("GB83WEST12345698765432")
(True, True, False)
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ponder.errors import ConfigError

KINDS = ("email", "phone", "credit_card", "iban", "ip_address", "national_id")

# lengths of IBANs by country (ISO 13616 registry, the countries most often seen)
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28,
    "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28,
    "PT": 25, "QA": 29, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
    "UA": 29,
}
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# international (+CC ...), North American ((415) 555-0132, 415-555-0132) and national numbers
# with a trunk 0 (020 7946 0958): bare runs of digit groups are too often other numbers
_PHONE = re.compile(
    r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,8}){2,6}"
    r"|(?:\(\d{3}\)[ ]?|\d{3}[-. ])\d{3}[-. ]\d{4}"
    r"|0[1-9]\d{0,3}(?:[ -]\d{2,4}){2,4})(?![\w-])(?! \d)"
)
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
_DNI = re.compile(r"\b([XYZ]?)(\d{7,8})-?([A-Z])\b")
_NIR = re.compile(r"(?<!\d)([12])[ ]?(\d{2})[ ]?(\d{2})[ ]?(\d{2}|2A|2B)[ ]?(\d{3})[ ]?(\d{3})"
                  r"[ ]?(\d{2})(?!\d)")


@dataclass(frozen=True)
class PIIMatch:
    """One piece of PII: its kind, its span in the text and the matched text."""

    kind: str
    start: int
    end: int
    text: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start, "end": self.end, "text": self.text,
                "detail": self.detail}


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def luhn_ok(number: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    ds = [int(c) for c in _digits(number)]
    if len(ds) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(ds)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_brand(ds: str) -> str:
    if ds[0] == "4" and len(ds) in (13, 16, 19):
        return "visa"
    if len(ds) == 16 and (51 <= int(ds[:2]) <= 55 or 2221 <= int(ds[:4]) <= 2720):
        return "mastercard"
    if len(ds) == 15 and ds[:2] in ("34", "37"):
        return "amex"
    if len(ds) in (16, 19) and (ds.startswith("6011") or ds.startswith("65")):
        return "discover"
    if len(ds) in (16, 19) and 3528 <= int(ds[:4]) <= 3589:
        return "jcb"
    return ""


def iban_ok(iban: str) -> bool:
    """ISO 13616: the country's length and the mod-97 check (the remainder must be 1)."""
    s = iban.replace(" ", "").upper()
    if len(s) < 15 or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    want = IBAN_LENGTHS.get(s[:2])
    if want is not None and len(s) != want:
        return False
    moved = s[4:] + s[:4]
    try:
        num = "".join(str(int(c, 36)) for c in moved)
    except ValueError:
        return False
    return int(num) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US SSN validity rules (no check digit exists): area not 000, 666 or 9xx; group not 00;
    serial not 0000."""
    return (area not in ("000", "666") and not area.startswith("9") and group != "00"
            and serial != "0000")


def dni_ok(prefix: str, digits: str, letter: str) -> bool:
    """Spanish DNI/NIE: the letter is the number mod 23 (NIE: X/Y/Z become 0/1/2)."""
    if prefix:
        if len(digits) != 7:
            return False
        digits = str("XYZ".index(prefix)) + digits
    elif len(digits) != 8:
        return False
    return _DNI_LETTERS[int(digits) % 23] == letter


def nir_ok(groups: tuple[str, ...]) -> bool:
    """French NIR (social security number): key = 97 - (first 13 digits mod 97); Corsica's
    2A/2B count as 19/18 per the rule."""
    body = "".join(groups[:-1])
    body = body.replace("2A", "19").replace("2B", "18")
    if not body.isdigit() or len(body) != 13:
        return False
    month = int(groups[2])
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    return 97 - int(body) % 97 == int(groups[-1])


def _emails(text: str) -> Iterable[PIIMatch]:
    for m in _EMAIL.finditer(text):
        yield PIIMatch("email", m.start(), m.end(), m.group())


def _cards(text: str) -> Iterable[PIIMatch]:
    for m in _CARD.finditer(text):
        ds = _digits(m.group())
        if 13 <= len(ds) <= 19 and luhn_ok(ds):
            brand = _card_brand(ds)
            if brand:
                yield PIIMatch("credit_card", m.start(), m.end(), m.group(), brand)


def _ibans(text: str) -> Iterable[PIIMatch]:
    for m in _IBAN.finditer(text):
        raw = m.group()
        # the greedy match may run into a following word: try the longest valid prefix
        for end in range(len(raw), 14, -1):
            cand = raw[:end].rstrip()
            if iban_ok(cand):
                yield PIIMatch("iban", m.start(), m.start() + len(cand), cand)
                break


def _ips(text: str) -> Iterable[PIIMatch]:
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield PIIMatch("ip_address", m.start(), m.end(), m.group(), "ipv4")
    for m in _IPV6.finditer(text):
        if m.group().count(":") < 2 or not any(c.isalnum() for c in m.group()):
            continue
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue
        yield PIIMatch("ip_address", m.start(), m.end(), m.group(), "ipv6")


def _national_ids(text: str) -> Iterable[PIIMatch]:
    for m in _SSN.finditer(text):
        if ssn_ok(*m.groups()):
            yield PIIMatch("national_id", m.start(), m.end(), m.group(), "us_ssn")
    for m in _DNI.finditer(text):
        if dni_ok(*m.groups()):
            yield PIIMatch("national_id", m.start(), m.end(), m.group(), "es_dni")
    for m in _NIR.finditer(text):
        if nir_ok(m.groups()):
            yield PIIMatch("national_id", m.start(), m.end(), m.group(), "fr_nir")


def _phones(text: str) -> Iterable[PIIMatch]:
    for m in _PHONE.finditer(text):
        s = m.group()
        ds = _digits(s)
        if not 9 <= len(ds) <= 15:
            continue
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}", s):
            continue  # a date
        yield PIIMatch("phone", m.start(), m.end(), s)


# most specific first: a span claimed by an earlier detector is not reported again
DETECTORS: dict[str, Callable[[str], Iterable[PIIMatch]]] = {
    "email": _emails,
    "iban": _ibans,
    "credit_card": _cards,
    "national_id": _national_ids,
    "ip_address": _ips,
    "phone": _phones,
}


def find_pii(text: str, kinds: Iterable[str] | None = None) -> list[PIIMatch]:
    """Every PII span in ``text`` (of ``kinds``, default all), in text order, not overlapping."""
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ConfigError(f"unknown PII kind(s) {sorted(unknown)}: use {', '.join(KINDS)}")
    taken: list[tuple[int, int]] = []
    out: list[PIIMatch] = []
    for kind, detect in DETECTORS.items():
        for m in detect(text):
            if any(m.start < e and s < m.end for s, e in taken):
                continue
            taken.append((m.start, m.end))
            if kind in wanted:
                out.append(m)
    return sorted(out, key=lambda m: m.start)


def redact(text: str, matches: Iterable[PIIMatch] | None = None) -> str:
    """``text`` with each PII span replaced by ``[KIND]``."""
    spans = sorted(find_pii(text) if matches is None else matches, key=lambda m: m.start)
    out, pos = [], 0
    for m in spans:
        if m.start < pos:
            continue
        out.append(text[pos : m.start])
        out.append(f"[{m.kind.upper()}]")
        pos = m.end
    out.append(text[pos:])
    return "".join(out)


__all__ = ["DETECTORS", "KINDS", "PIIMatch", "dni_ok", "find_pii", "iban_ok", "luhn_ok",
           "nir_ok", "redact", "ssn_ok"]
