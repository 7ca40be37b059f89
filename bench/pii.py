"""Precision and recall of the PII detector, per kind, on real text with seeded PII.

Run:  .venv/bin/python bench/pii.py [--seed 0]

Carrier text: the 240 English XQuAD paragraphs (Wikipedia, written by others). Into each,
at a random sentence boundary, one sentence is seeded with a random PII item drawn with a
fixed seed: two thirds are valid (e-mail, phone in several national formats, payment card
with a valid Luhn digit and a real brand prefix, IBAN of several countries with correct
check digits, IPv4/IPv6, US SSN, Spanish DNI/NIE, French NIR), one third are negatives
that look the same but fail their check (Luhn, mod 97, SSN rules, DNI letter, NIR key,
octets over 255) or are other numbers (dates, versions, 9-digit ids). A detection counts
as a true positive when it overlaps a seeded valid item of its kind; any other detection is a
false positive (the paragraphs themselves hold no PII, so a hit in them is an error too).
Saves ``bench/results/pii.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, RESULTS, save
from ponder.moderate.pii import IBAN_LENGTHS, KINDS, find_pii
from ponder.text import split_sentences

DNI = "TRWAGMYFPDXBNJZSQVHLCKE"
NAMES = ["maria.lopez", "j.smith", "anna_k", "t.nguyen", "o.adeyemi", "lea.martin"]
DOMAINS = ["example.com", "mail.example.org", "uni-example.edu", "example.co.uk"]


def luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return str((10 - total % 10) % 10)


def card(rng: random.Random, valid: bool) -> str:
    prefix, n = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("37", 15),
                            ("6011", 16), ("3530", 16)])
    body = prefix + "".join(rng.choice("0123456789") for _ in range(n - len(prefix) - 1))
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    num = body + check
    sep = rng.choice(["", " ", "-"])
    if n == 15:
        return sep.join([num[:4], num[4:10], num[10:]])
    return sep.join(num[i : i + 4] for i in range(0, n, 4))


def iban(rng: random.Random, valid: bool) -> str:
    cc = rng.choice(["DE", "GB", "FR", "ES", "NL", "IT", "BE", "CH"])
    n = IBAN_LENGTHS[cc] - 4
    if cc in ("GB", "NL"):
        bban = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
        bban += "".join(rng.choice("0123456789") for _ in range(n - 4))
    elif cc == "IT":
        bban = rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        bban += "".join(rng.choice("0123456789") for _ in range(n - 1))
    else:
        bban = "".join(rng.choice("0123456789") for _ in range(n))
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    check = 98 - num % 97
    if not valid:
        check = (check + rng.randint(1, 90)) % 97 + 2
        check = check if check != 98 - num % 97 else check + 1
    s = f"{cc}{check:02d}{bban}"
    return " ".join(s[i : i + 4] for i in range(0, len(s), 4)) if rng.random() < 0.5 else s


def phone(rng: random.Random) -> str:
    d = lambda k: "".join(rng.choice("0123456789") for _ in range(k))  # noqa: E731
    return rng.choice([
        f"+44 20 {d(4)} {d(4)}", f"({rng.randint(201, 989)}) 555-{d(4)}",
        f"+1 {rng.randint(201, 989)}-555-{d(4)}", f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}",
        f"{rng.randint(201, 989)}-555-{d(4)}", f"+49 30 {d(8)}", f"+34 91 {d(3)} {d(2)} {d(2)}",
    ])


def ip(rng: random.Random, valid: bool) -> str:
    if not valid:
        return f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.1"
    if rng.random() < 0.7:
        return ".".join(str(rng.randint(1, 254)) for _ in range(4))
    return "2001:db8:" + ":".join(f"{rng.randint(0, 65535):x}" for _ in range(3)) + "::1"


def national(rng: random.Random, valid: bool) -> str:
    kind = rng.choice(["ssn", "dni", "nie", "nir"])
    if kind == "ssn":
        area = f"{rng.randint(1, 665):03d}" if valid else rng.choice(["000", "666", "912"])
        return f"{area}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if kind in ("dni", "nie"):
        digits = f"{rng.randint(0, 9999999):07d}"
        prefix = rng.choice("XYZ") if kind == "nie" else ""
        full = (str("XYZ".index(prefix)) + digits) if prefix else f"{rng.randint(1, 9)}{digits}"
        letter = DNI[int(full) % 23]
        if not valid:
            letter = DNI[(int(full) + rng.randint(1, 22)) % 23]
        return f"{prefix}{digits if prefix else full}{letter}"
    sex = rng.choice("12")
    body = (f"{sex}{rng.randint(40, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}"
            f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}")
    key = 97 - int(body) % 97
    if not valid:
        key = (key % 97) + 1
    return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"


def negative_other(rng: random.Random) -> str:
    return rng.choice([
        f"{rng.randint(1990, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
        f"{rng.randint(100_000_000, 999_999_999)}",
        f"{rng.randint(1, 31)}/{rng.randint(1, 12)}/2021",
    ])


TEMPLATES = ["For details, contact {x}.", "The reference on file was {x}.",
             "A later note listed {x} as well.", "(Record: {x})"]


def seed_item(rng: random.Random, i: int) -> tuple[str, str | None]:
    """``(text, kind)``; kind ``None`` for a negative."""
    valid = i % 3 != 2
    kind = KINDS[(i // 3 * 2 + i % 3) % len(KINDS)] if valid else rng.choice(
        ["credit_card", "iban", "ip_address", "national_id", "other"])
    if kind == "email":
        return f"{rng.choice(NAMES)}{rng.randint(1, 99)}@{rng.choice(DOMAINS)}", "email"
    if kind == "phone":
        return phone(rng), "phone"
    if kind == "credit_card":
        return card(rng, valid), "credit_card" if valid else None
    if kind == "iban":
        return iban(rng, valid), "iban" if valid else None
    if kind == "ip_address":
        return ip(rng, valid), "ip_address" if valid else None
    if kind == "national_id":
        return national(rng, valid), "national_id" if valid else None
    return negative_other(rng), None


def build(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    data = json.loads((DATASETS / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))
    paras = [p["context"] for a in data["data"] for p in a["paragraphs"]]
    docs = []
    for i, para in enumerate(paras):
        value, kind = seed_item(rng, i)
        sents = split_sentences(para)
        at = rng.randint(0, len(sents))
        sentence = rng.choice(TEMPLATES).format(x=value)
        before = " ".join(sents[:at])
        text = (before + " " if before else "") + sentence
        start = text.index(value, len(before))
        rest = " ".join(sents[at:])
        text = text + (" " + rest if rest else "")
        docs.append({"text": text, "value": value, "kind": kind, "start": start,
                     "end": start + len(value)})
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not (DATASETS / "xquad").exists():
        print(f"skipped: needs {DATASETS}/xquad (../shared/datasets)")
        return
    docs = build(args.seed)
    counts = {k: {"tp": 0, "fp": 0, "fn": 0} for k in KINDS}
    errors: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for d in docs:
        hits = find_pii(d["text"])
        matched = False
        for h in hits:
            if d["kind"] == h.kind and h.start < d["end"] and d["start"] < h.end:
                counts[h.kind]["tp"] += 1
                matched = True
            else:
                counts[h.kind]["fp"] += 1
                errors.append({"error": "fp", "kind": h.kind, "found": h.text,
                               "seeded": d["value"], "seeded_kind": d["kind"]})
        if d["kind"] and not matched:
            counts[d["kind"]]["fn"] += 1
            errors.append({"error": "fn", "kind": d["kind"], "seeded": d["value"]})
    seconds = time.perf_counter() - t0
    table = {}
    for k, c in counts.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        table[k] = {**c, "precision": round(p, 3), "recall": round(r, 3)}
    tot = {x: sum(c[x] for c in counts.values()) for x in ("tp", "fp", "fn")}
    table["all"] = {**tot, "precision": round(tot["tp"] / max(1, tot["tp"] + tot["fp"]), 3),
                    "recall": round(tot["tp"] / max(1, tot["tp"] + tot["fn"]), 3)}
    cmd = "python bench/pii.py " + shlex.join(sys.argv[1:])
    n_neg = sum(d["kind"] is None for d in docs)
    save("pii", {"command": cmd, "documents": len(docs), "negatives": n_neg,
                 "seconds": round(seconds, 3), "per_kind": table, "errors": errors})
    md = [f"# PII detection ({len(docs)} XQuAD paragraphs, {len(docs) - n_neg} seeded PII, "
          f"{n_neg} checksum-invalid or look-alike negatives; seed {args.seed})", "",
          f"`{cmd}` · {seconds:.2f}s", "", "| kind | TP | FP | FN | precision | recall |",
          "|---|---|---|---|---|---|"]
    for k, v in table.items():
        md.append(f"| {k} | {v['tp']} | {v['fp']} | {v['fn']} | {v['precision']:.2f} | "
                  f"{v['recall']:.2f} |")
    (RESULTS / "pii.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    for e in errors[:15]:
        print(e)


if __name__ == "__main__":
    main()
