"""Fit ``auto``'s agreement margin (``ponder.rag.extractive.agreement``) on XQuAD English.

``auto`` keeps a generated answer only when it passes the support check and agrees with the
extractive reading: the words each claim adds to the question lie in one source sentence,
and for one claim that sentence scores within ``margin`` (logits of the sentence model) of
the best. This script replays that rule on the generated answers a live auto run recorded
(``bench/results/ask_auto_fit.run.json``: the 200-question run of ``bench/ask.py --part
auto`` made before this check existed, kept under that name), with the same
retrieval and the same extractive scorer, and picks the margin from a grid that gives the
most "answer contains gold" on the questions of the **fitting** articles only (the
even-numbered ones, as ``bench/fit_extractive.py``; ties go to the smaller, stricter
margin). Held-out articles and all questions are reported beside it, with the old rule
(support check only) and extractive alone. Writes ``agreement`` into
``src/ponder/data/extractive.json`` and ``bench/results/ask_auto_fit.json``.

Run: ``.venv/bin/python bench/fit_auto.py`` (about a minute; the model is not loaded).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, RESULTS, machine, save
from ponder.evaluate.qa import load_squad
from ponder.rag.ask import AskConfig
from ponder.rag.citations import check_support
from ponder.rag.extractive import WEIGHTS_FILE, agreement, load_weights, rank_sentences
from ponder.rag.modes import _extraction_texts
from ponder.rag.retrieve import RetrievalConfig, retrieve
from ponder.store.collection import Collection

GRID = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, math.inf)


def main() -> None:
    t0 = time.time()
    run = json.loads((RESULTS / "ask_auto_fit.run.json").read_text())
    ext = {r["id"]: r for r in
           json.loads((RESULTS / "ask_modes.extractive.json").read_text())["extractive"]}
    paragraphs, examples = load_squad(DATASETS / "xquad" / "xquad.en.json")
    articles = list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in paragraphs))
    fit_articles = set(articles[0::2])
    by_id = {e.id: e for e in examples}
    cfg = AskConfig()
    rows: list[dict[str, Any]] = []
    weights = dict(load_weights())
    with Collection.open("xquad-en", home=RESULTS / "cache") as col:
        rcfg = RetrievalConfig(mode=cfg.retrieval, k=cfg.k, min_score=0.2)
        for g, au in zip(run["generative"], run["auto"], strict=True):
            ex = by_id[g["id"]]
            hits = retrieve(col, ex.question, rcfg)
            texts, _ = _extraction_texts(hits, cfg)
            ranked = rank_sentences(ex.question, hits, texts=texts, embedder=col.embedder)
            sources = {i + 1: t for i, t in enumerate(texts)}
            claims = [r.text for r in check_support(g["answer"], sources) if r.kind == "claim"]
            ag = agreement(ex.question, claims or g["answer"], ranked,
                           weights={**weights, "agreement": {"margin": math.inf}})
            checked = [m for a, m in zip(ag.added, ag.margins, strict=True) if a]
            margin = (min(checked) if checked and all(m < math.inf for m in checked)
                      else math.inf)
            rows.append({
                "id": g["id"], "fit": ex.paragraph_id.rsplit("-", 1)[0] in fit_articles,
                "supported": au["answered_by"] == "generative",  # passed the old rule
                "margin": margin, "gen": (g["contains"], g["f1"]),
                "ext": (ext[g["id"]]["contains"], ext[g["id"]]["f1"]),
            })

    def score(limit: float | None, part: bool | None) -> dict[str, float]:
        rs = [r for r in rows if part is None or r["fit"] == part]
        kept = [r["supported"] and (limit is None or (r["margin"] < math.inf
                                                      and r["margin"] <= limit)) for r in rs]
        pick = [r["gen"] if k else r["ext"] for r, k in zip(rs, kept, strict=True)]
        return {"questions": len(rs), "contains": round(sum(c for c, _ in pick) / len(rs), 4),
                "f1": round(sum(f for _, f in pick) / len(rs), 4), "kept": sum(kept)}

    table = [{"margin": m if m < math.inf else "inf", "fit": score(m, True),
              "held_out": score(m, False), "all": score(m, None)} for m in GRID]
    best = max(GRID, key=lambda m: (score(m, True)["contains"], -m))
    baselines = {
        "support check only (before)": {p: score(None, v) for p, v in
                                        (("fit", True), ("held_out", False), ("all", None))},
        "extractive alone": {p: score(-1.0, v) for p, v in
                             (("fit", True), ("held_out", False), ("all", None))},
    }
    chosen = {"margin": best, "fit": score(best, True), "held_out": score(best, False),
              "all": score(best, None)}
    print(json.dumps({"grid": table, "baselines": baselines, "chosen": chosen}, indent=1))
    data = json.loads(WEIGHTS_FILE.read_text())
    data["agreement"] = {
        "margin": best,
        "fitted_on": (f"XQuAD English: the {sum(r['fit'] for r in rows)} questions of the "
                      f"fitting articles among the {len(rows)} of the live auto run"),
        "script": "bench/fit_auto.py",
    }
    WEIGHTS_FILE.write_text(json.dumps(data, indent=1) + "\n")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    save("ask_auto_fit", {"meta": {**machine(), "uptime": load,
                                   "seconds": round(time.time() - t0, 1),
                                   "auto_run": run["meta"]},
                          "grid": table, "baselines": baselines, "chosen": chosen})


if __name__ == "__main__":
    main()
