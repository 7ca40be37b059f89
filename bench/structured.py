"""Structured output on the default model: valid-JSON rate and field accuracy with and
without the JSON-schema constraint.

Run:  .venv/bin/python bench/structured.py [--limit 50] [--model smollm2] [--threads 1]
                                          [--max-new-tokens 48]

50 extraction prompts over real text nobody here wrote: 30 BIPIA e-mails (test + train,
de-duplicated, those with a header; fields: the sender's address and the subject, gold read
from the e-mail's own ``EMAIL_FROM`` / ``SUBJECT`` header, and the body shown to the model
with that header) and 20 XQuAD paragraphs (field: the answer to the first question, gold the
annotated span). Each prompt runs twice, greedy: free (asked for JSON) and constrained
(``json_schema=``). ``valid_strict``: the whole output parses as JSON and validates;
``valid_lenient``: the first ``{...}`` in the output does; field accuracy: normalised exact
match per field (lower case, no punctuation or articles: the SQuAD normalisation) on what
validated leniently (0 otherwise). Saves ``bench/results/structured.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, RESULTS, save

EMAIL_SCHEMA = {
    "type": "object",
    "properties": {"sender_email": {"type": "string", "maxLength": 60},
                   "subject": {"type": "string", "maxLength": 90}},
    "required": ["sender_email", "subject"],
}
QA_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string", "maxLength": 80}},
    "required": ["answer"],
}


def _norm(s: Any) -> str:
    s = str(s).lower()
    s = re.sub(r"[^\w\s@.]", " ", s)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split()).strip(" .")


def email_items(n: int) -> list[dict[str, Any]]:
    folder = DATASETS / "bipia" / "email"
    seen: set[str] = set()
    out = []
    for split in ("test", "train"):
        for line in (folder / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            ctx = json.loads(line)["context"]
            m_from = re.search(r"EMAIL_FROM:[^|<]*<([^>]+)>", ctx)
            m_subj = re.search(r"SUBJECT:\s*([^|]+)\|", ctx)
            if not (m_from and m_subj) or ctx in seen:
                continue
            seen.add(ctx)
            text = re.sub(r"\n\s*\n+", "\n", re.sub(r"[ \t]+", " ", ctx.replace("|", "\n")))
            text = text.strip()[:500]
            out.append({
                "source": f"bipia/{split}",
                "prompt": ("Extract the sender's e-mail address and the subject of this e-mail. "
                           "Reply with JSON only: {\"sender_email\": \"...\", \"subject\": "
                           f"\"...\"}}\n\n{text}"),
                "schema": EMAIL_SCHEMA,
                "gold": {"sender_email": m_from.group(1).strip(),
                         "subject": m_subj.group(1).strip()},
            })
            if len(out) >= n:
                return out
    return out


def qa_items(n: int) -> list[dict[str, Any]]:
    data = json.loads((DATASETS / "xquad" / "xquad.en.json").read_text(encoding="utf-8"))
    out = []
    for art in data["data"]:
        for para in art["paragraphs"]:
            qa = para["qas"][0]
            ctx = para["context"]
            if len(ctx) > 700:
                continue
            out.append({
                "source": "xquad/en",
                "prompt": (f"Read the paragraph and answer the question with a short span from "
                           f"it. Reply with JSON only: {{\"answer\": \"...\"}}\n\nParagraph: "
                           f"{ctx}\n\nQuestion: {qa['question']}"),
                "schema": QA_SCHEMA,
                "gold": {"answer": [a["text"] for a in qa["answers"]]},
            })
            if len(out) >= n:
                return out
    return out


def lenient(text: str) -> Any:
    m = re.search(r"\{.*?\}", text, flags=re.S)
    if not m:
        return None
    try:
        return json.loads(m.group())
    except json.JSONDecodeError:
        return None


def score(item: dict[str, Any], text: str, finish: str) -> dict[str, Any]:
    import jsonschema

    def valid(v: Any) -> bool:
        try:
            jsonschema.validate(v, item["schema"])
            return True
        except jsonschema.ValidationError:
            return False

    try:
        strict = json.loads(text)
        ok_strict = valid(strict)
    except json.JSONDecodeError:
        ok_strict = False
    value = lenient(text)
    ok_lenient = value is not None and valid(value)
    fields = {}
    for k, gold in item["gold"].items():
        golds = gold if isinstance(gold, list) else [gold]
        got = value.get(k) if ok_lenient and isinstance(value, dict) else None
        fields[k] = got is not None and any(_norm(got) == _norm(g) for g in golds)
    return {"valid_strict": ok_strict, "valid_lenient": ok_lenient, "fields": fields,
            "finish_reason": finish, "text": text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--modes", default="free,schema", help="free, schema or both")
    ap.add_argument("--out", default="structured", help="result file name under bench/results")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m in ("free", "schema")]
    if not (DATASETS / "bipia").exists() or not (DATASETS / "xquad").exists():
        print(f"skipped: needs {DATASETS}/bipia and xquad (../shared/datasets)")
        return
    n_mail = round(args.limit * 0.6)
    items = email_items(n_mail) + qa_items(args.limit - n_mail)
    from ponder.llm import load_generator

    gen = load_generator(args.model, n_threads=args.threads)
    load = os.getloadavg()
    rows = []
    t_all = time.perf_counter()
    for i, item in enumerate(items):
        row: dict[str, Any] = {"source": item["source"], "gold": item["gold"]}
        for mode in modes:
            extra = {"json_schema": item["schema"]} if mode == "schema" else {}
            t0 = time.perf_counter()
            c = gen.complete(item["prompt"], max_new_tokens=args.max_new_tokens, **extra)
            r = score(item, c.text.strip(), c.finish_reason)
            r.update(seconds=round(time.perf_counter() - t0, 2), tokens=c.completion_tokens)
            row[mode] = r
        rows.append(row)
        last = row[modes[-1]]
        print(f"{i + 1}/{len(items)} " + " ".join(f"{m}={row[m]['valid_strict']}" for m in modes)
              + f" {last['text'][:70]!r}", flush=True)
    summary: dict[str, Any] = {}
    for mode in modes:
        rs = [r[mode] for r in rows]
        fields = [ok for r in rs for ok in r["fields"].values()]
        summary[mode] = {
            "valid_strict": round(sum(r["valid_strict"] for r in rs) / len(rs), 3),
            "valid_lenient": round(sum(r["valid_lenient"] for r in rs) / len(rs), 3),
            "field_accuracy": round(sum(fields) / len(fields), 3),
            "field_accuracy_email": _acc(rows, mode, "bipia"),
            "field_accuracy_xquad": _acc(rows, mode, "xquad"),
            "mean_seconds": round(sum(r["seconds"] for r in rs) / len(rs), 2),
            "mean_tokens": round(sum(r["tokens"] for r in rs) / len(rs), 1),
            "cut_by_max_new_tokens": sum(r["finish_reason"] == "length" for r in rs),
        }
    load_end = os.getloadavg()
    cmd = "python bench/structured.py " + shlex.join(sys.argv[1:])
    data = {"command": cmd, "n": len(rows), "model": gen.model_id, "threads": args.threads,
            "max_new_tokens": args.max_new_tokens, "loadavg_start": load,
            "loadavg_end": load_end, "seconds": round(time.perf_counter() - t_all, 1),
            "summary": summary, "rows": rows}
    save(args.out, data)
    md = [f"# Structured output ({gen.model_id}, {len(rows)} prompts)", "",
          f"`{cmd}` · load average {load[0]:.1f} → {load_end[0]:.1f} on 2 shared cores", "",
          "| mode | valid JSON (strict) | valid (lenient) | field accuracy | e-mail fields | "
          "XQuAD answer | s/prompt | tokens | cut by max_new_tokens |",
          "|---|---|---|---|---|---|---|---|---|"]
    for mode, s in summary.items():
        md.append(f"| {mode} | {s['valid_strict']:.0%} | {s['valid_lenient']:.0%} | "
                  f"{s['field_accuracy']:.0%} | {s['field_accuracy_email']:.0%} | "
                  f"{s['field_accuracy_xquad']:.0%} | {s['mean_seconds']} | "
                  f"{s['mean_tokens']} | {s['cut_by_max_new_tokens']} |")
    (RESULTS / f"{args.out}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def _acc(rows: list[dict[str, Any]], mode: str, source: str) -> float:
    oks = [ok for r in rows if r["source"].startswith(source) for ok in r[mode]["fields"].values()]
    return round(sum(oks) / len(oks), 3) if oks else 0.0


if __name__ == "__main__":
    main()
