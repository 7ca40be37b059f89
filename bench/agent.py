"""The ReAct agent on 40 tasks with exact answers: default model with the grammar, without
it, and closed book (no tools).

Run:  .venv/bin/python bench/agent.py [--limit 40] [--budget-s 3600] [--max-steps 4]
                                     [--model smollm2] [--threads 1]

Data (real, not written here): a ``tweets`` table (id, label, n_chars, n_words, n_hashtags,
n_mentions) built from the first 1,000 TweetEval sentiment test tweets, and a ``qrels``
table (query_id, corpus_id, score) from the BEIR SciFact test judgments, both written to a
temporary folder as CSV and given to the agent's ``sql`` tool; the ``calculator`` and
``pydoc`` tools besides. Tasks: 16 aggregates over the tables, 12 look-ups of default
argument values in the standard library, 12 two-step questions (a look-up, then arithmetic).
Every gold answer is computed from the data (a reference SQL query, ``inspect.signature``),
never typed in. A run is correct when the final answer contains the gold value (numbers:
equal after rounding to the gold's precision; other values: the normalised gold as a word).

Tasks run in an interleaved order (one aggregate, one look-up, one two-step, ...) and each in
all three modes before the next, so a run cut by ``--budget-s`` still compares the modes on
the same tasks. Saves ``bench/results/agent.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import math
import os
import re
import shlex
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, RESULTS, save

LABELS = {"0": "negative", "1": "neutral", "2": "positive"}


def build_tables(folder: Path) -> dict[str, Path]:
    tw = DATASETS / "tweeteval" / "sentiment"
    texts = (tw / "test_text.txt").read_text(encoding="utf-8").splitlines()[:1000]
    labels = (tw / "test_labels.txt").read_text(encoding="utf-8").splitlines()[:1000]
    tweets = folder / "tweets.csv"
    with tweets.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "label", "n_chars", "n_words", "n_hashtags", "n_mentions"])
        for i, (t, lab) in enumerate(zip(texts, labels, strict=True), 1):
            w.writerow([i, LABELS[lab.strip()], len(t), len(t.split()), t.count("#"),
                        t.count("@user")])
    qrels = folder / "qrels.csv"
    rows = (DATASETS / "beir_scifact" / "qrels" / "test.tsv").read_text().splitlines()[1:]
    with qrels.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "corpus_id", "score"])
        for r in rows:
            w.writerow(r.split("\t"))
    return {"tweets": tweets, "qrels": qrels}


def _sql(db: sqlite3.Connection, q: str) -> Any:
    return db.execute(q).fetchone()[0]


def _default(ref: str, param: str) -> Any:
    mod, _, attr = ref.rpartition(".")
    fn = getattr(importlib.import_module(mod), attr)
    return inspect.signature(fn).parameters[param].default


def tasks(tables: dict[str, Path]) -> list[dict[str, Any]]:
    from ponder.agents.tools.sql import SQLTool

    db = SQLTool(list(tables.values())).db
    agg = [
        ("How many tweets in the tweets table have the label positive?",
         "SELECT COUNT(*) FROM tweets WHERE label = 'positive'"),
        ("How many tweets in the tweets table have the label negative?",
         "SELECT COUNT(*) FROM tweets WHERE label = 'negative'"),
        ("How many tweets in the tweets table have the label neutral?",
         "SELECT COUNT(*) FROM tweets WHERE label = 'neutral'"),
        ("How many rows does the tweets table have?", "SELECT COUNT(*) FROM tweets"),
        ("What is the largest n_chars value in the tweets table?",
         "SELECT MAX(n_chars) FROM tweets"),
        ("What is the smallest n_words value in the tweets table?",
         "SELECT MIN(n_words) FROM tweets"),
        ("How many tweets have more than 2 hashtags (n_hashtags > 2)?",
         "SELECT COUNT(*) FROM tweets WHERE n_hashtags > 2"),
        ("How many tweets mention no user (n_mentions = 0)?",
         "SELECT COUNT(*) FROM tweets WHERE n_mentions = 0"),
        ("What is the total of n_words over all tweets?", "SELECT SUM(n_words) FROM tweets"),
        ("How many positive tweets have more than 20 words?",
         "SELECT COUNT(*) FROM tweets WHERE label = 'positive' AND n_words > 20"),
        ("How many rows does the qrels table have?", "SELECT COUNT(*) FROM qrels"),
        ("How many distinct query_id values are in the qrels table?",
         "SELECT COUNT(DISTINCT query_id) FROM qrels"),
        ("What is the largest query_id in the qrels table?", "SELECT MAX(query_id) FROM qrels"),
        ("What is the smallest corpus_id in the qrels table?",
         "SELECT MIN(corpus_id) FROM qrels"),
        ("How many qrels rows have query_id below 100?",
         "SELECT COUNT(*) FROM qrels WHERE query_id < 100"),
        ("What is the average n_words of negative tweets, rounded to one decimal?",
         "SELECT ROUND(AVG(n_words), 1) FROM tweets WHERE label = 'negative'"),
    ]
    look = [("textwrap.wrap", "width"), ("json.dumps", "indent"), ("json.dumps", "sort_keys"),
            ("difflib.get_close_matches", "n"), ("difflib.get_close_matches", "cutoff"),
            ("pprint.pformat", "width"), ("statistics.quantiles", "n"),
            ("functools.lru_cache", "maxsize"), ("math.isclose", "rel_tol"),
            ("shutil.copytree", "dirs_exist_ok"), ("subprocess.run", "timeout"),
            ("base64.b64encode", "altchars")]
    two = [
        ("What is the default width of textwrap.wrap multiplied by 3?",
         _default("textwrap.wrap", "width") * 3),
        ("What is the default n of difflib.get_close_matches plus the default width of "
         "pprint.pformat?", _default("difflib.get_close_matches", "n")
         + _default("pprint.pformat", "width")),
        ("What is the default maxsize of functools.lru_cache divided by 4?",
         _default("functools.lru_cache", "maxsize") / 4),
        ("What is the default n of statistics.quantiles squared?",
         _default("statistics.quantiles", "n") ** 2),
        ("What is the default width of pprint.pformat minus the default width of "
         "textwrap.wrap?", _default("pprint.pformat", "width")
         - _default("textwrap.wrap", "width")),
        ("What is 100 times the default cutoff of difflib.get_close_matches?",
         round(100 * _default("difflib.get_close_matches", "cutoff"), 6)),
        ("How many positive tweets are there, multiplied by 2?",
         2 * _sql(db, "SELECT COUNT(*) FROM tweets WHERE label = 'positive'")),
        ("How many negative tweets are there, plus 1000?",
         1000 + _sql(db, "SELECT COUNT(*) FROM tweets WHERE label = 'negative'")),
        ("What share of the tweets are neutral, in percent (neutral count / total count * 100)?",
         round(100 * _sql(db, "SELECT COUNT(*) FROM tweets WHERE label = 'neutral'")
               / _sql(db, "SELECT COUNT(*) FROM tweets"), 1)),
        ("How many qrels rows are there per distinct query on average, rounded to two decimals?",
         round(_sql(db, "SELECT COUNT(*) FROM qrels")
               / _sql(db, "SELECT COUNT(DISTINCT query_id) FROM qrels"), 2)),
        ("What is the largest n_chars of the tweets minus 100?",
         _sql(db, "SELECT MAX(n_chars) FROM tweets") - 100),
        ("What is the total number of hashtags in the tweets table divided by 10?",
         _sql(db, "SELECT SUM(n_hashtags) FROM tweets") / 10),
    ]
    a = [{"kind": "aggregate", "question": q, "gold": _sql(db, s)} for q, s in agg]
    b = [{"kind": "lookup",
          "question": f"What is the default value of the {p} parameter of {ref}?",
          "gold": _default(ref, p)} for ref, p in look]
    c = [{"kind": "two-step", "question": q, "gold": g} for q, g in two]
    out = []
    for i in range(max(len(a), len(b), len(c))):
        for group in (a, b, c):
            if i < len(group):
                out.append(group[i])
    return out


def correct(answer: str, gold: Any) -> bool:
    if isinstance(gold, bool) or gold is None:
        return re.search(rf"\b{gold}\b", answer, flags=re.I) is not None
    if isinstance(gold, int | float):
        text = repr(float(gold))
        decimals = None if "e" in text else (0 if float(gold) == int(gold)
                                             else len(text.split(".")[1]))
        for num in re.findall(r"-?\d[\d,]*\.?\d*(?:e-?\d+)?", answer):
            try:
                v = float(num.replace(",", ""))
            except ValueError:
                continue
            if decimals is None and math.isclose(v, float(gold), rel_tol=1e-6):
                return True
            if decimals is not None and round(v, decimals) == round(float(gold), decimals):
                return True
        return False
    return str(gold).lower() in answer.lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--budget-s", type=float, default=3600.0)
    ap.add_argument("--max-steps", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=120)
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if not (DATASETS / "tweeteval").exists() or not (DATASETS / "beir_scifact").exists():
        print(f"skipped: needs {DATASETS}/tweeteval and beir_scifact (../shared/datasets)")
        return
    from ponder.agents import Agent
    from ponder.llm import load_generator

    tmp = Path(tempfile.mkdtemp(prefix="ponder-agent-bench-"))
    tables = build_tables(tmp)
    all_tasks = tasks(tables)[: args.limit]
    gen = load_generator(args.model, n_threads=args.threads)
    tools = f"sql:{tables['tweets']}+{tables['qrels']},calculator,pydoc"
    modes = {
        "grammar": Agent(tools, model=gen, max_steps=args.max_steps, grammar=True,
                         max_new_tokens=args.max_new_tokens, thought_chars=60),
        "free": Agent(tools, model=gen, max_steps=args.max_steps, grammar=False,
                      max_new_tokens=args.max_new_tokens),
        "closed_book": Agent([], model=gen, max_steps=1, grammar=True,
                             max_new_tokens=args.max_new_tokens, thought_chars=60),
    }
    load = os.getloadavg()
    t_all = time.perf_counter()
    rows = []
    for i, task in enumerate(all_tasks):
        if time.perf_counter() - t_all > args.budget_s:
            print(f"budget of {args.budget_s:.0f}s reached after {i} tasks", flush=True)
            break
        row: dict[str, Any] = {"kind": task["kind"], "question": task["question"],
                               "gold": task["gold"]}
        for mode, agent in modes.items():
            r = agent.run(task["question"])
            valid_calls = sum(1 for s in r.steps if s.action is not None and not s.error)
            row[mode] = {"answer": r.answer, "correct": correct(r.answer, task["gold"]),
                         "steps": len(r.steps), "tool_calls": sum(
                             1 for s in r.steps if s.action is not None),
                         "valid_calls": valid_calls, "status": r.status,
                         "seconds": round(r.seconds, 2),
                         "trace": [s.to_dict() for s in r.steps]}
        rows.append(row)
        print(f"{i + 1}/{len(all_tasks)} {task['kind']} gold={task['gold']!r} " + " ".join(
            f"{m}={row[m]['correct']}:{row[m]['answer'][:30]!r}" for m in modes), flush=True)
    summary: dict[str, Any] = {}
    for mode in modes:
        rs = [r[mode] for r in rows]
        n = max(1, len(rs))
        calls = sum(r["tool_calls"] for r in rs)
        summary[mode] = {
            "success": round(sum(r["correct"] for r in rs) / n, 3),
            "by_kind": {k: _rate([r[mode] for r in rows if r["kind"] == k])
                        for k in ("aggregate", "lookup", "two-step")},
            "mean_steps": round(sum(r["steps"] for r in rs) / n, 2),
            "valid_tool_calls": round(sum(r["valid_calls"] for r in rs) / calls, 3)
            if calls else None,
            "mean_seconds": round(sum(r["seconds"] for r in rs) / n, 1),
        }
    load_end = os.getloadavg()
    cmd = "python bench/agent.py " + shlex.join(sys.argv[1:])
    save("agent", {"command": cmd, "tasks_run": len(rows), "tasks_total": len(all_tasks),
                   "model": gen.model_id, "max_steps": args.max_steps,
                   "loadavg_start": load, "loadavg_end": load_end,
                   "seconds": round(time.perf_counter() - t_all, 1), "summary": summary,
                   "rows": rows})
    md = [f"# Agent ({gen.model_id}, {len(rows)} of {len(all_tasks)} tasks, max "
          f"{args.max_steps} steps)", "",
          f"`{cmd}` · load average {load[0]:.1f} → {load_end[0]:.1f} on 2 shared cores", "",
          "| mode | success | aggregate | look-up | two-step | steps | tool calls that ran "
          "without error | s/task |", "|---|---|---|---|---|---|---|---|"]
    for mode, s in summary.items():
        v = s["valid_tool_calls"]
        md.append(f"| {mode} | {s['success']:.0%} | {_pct(s['by_kind']['aggregate'])} | "
                  f"{_pct(s['by_kind']['lookup'])} | {_pct(s['by_kind']['two-step'])} | "
                  f"{s['mean_steps']} | {'-' if v is None else f'{v:.0%}'} | "
                  f"{s['mean_seconds']} |")
    (RESULTS / "agent.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def _rate(rs: list[dict[str, Any]]) -> float | None:
    return round(sum(r["correct"] for r in rs) / len(rs), 3) if rs else None


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


if __name__ == "__main__":
    main()
