"""Fit and measure the extractive answer scorer (``ponder.rag.extractive``) on XQuAD English.

The 48 articles are split by article: even-numbered ones (in file order) are the fit set,
odd-numbered ones the held-out set. For every question the default ``ask`` retrieval (hybrid,
k=3, cosine floor 0.2) gives the chunks; every sentence of them is a candidate, labelled by
whether it contains a gold answer; the clauses of the gold-bearing sentences are span
candidates, labelled by their token F1 with the gold. Fitted (fit set only):

- sentence scorer on ``SENTENCE_FEATURES``: pointwise logistic regression or a listwise
  softmax (expected "contains gold" of the chosen sentence), whichever is better on a
  selection split (half of the fit articles, after training on the other half);
- span scorer on ``SPAN_FEATURES``: listwise softmax maximising the chosen span's token F1 +
  alpha * contains, alpha chosen on the selection split by F1 + contains.

Both are then refitted on the whole fit set. Reported: each single feature, the hand-set
weights and the fitted models (selection split and held-out articles), and end to end
(held-out): whole sentence vs fitted span. The
floor (below it: "the sources do not contain the answer") is measured on held-out answerable
questions and on off-topic questions. Writes ``src/ponder/data/extractive.json`` and
``bench/results/ask_extractive_fit.json``.

Run: ``.venv/bin/python bench/fit_extractive.py`` (a few minutes; embeddings are cached per
sentence).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATASETS, RESULTS, machine, save
from ponder.evaluate.qa import contains_answer, ingest_paragraphs, load_squad, token_f1
from ponder.rag.ask import DEFAULT_K, DEFAULT_MIN_SCORE
from ponder.rag.extractive import (
    _DEFAULT,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    WEIGHTS_FILE,
    extract,
    sentence_candidates,
    span_candidates,
)
from ponder.rag.retrieve import RetrievalConfig, retrieve
from ponder.store.collection import Collection

HOME = RESULTS / "cache"
OFF_TOPIC = [  # questions XQuAD's 240 paragraphs do not answer
    "How long does black tea steep?", "What is the boiling point of ethanol?",
    "Who wrote the novel Moby-Dick?", "How do I read a CSV file with a header row?",
    "What is the capital of Mongolia?", "When was the first iPhone released?",
    "How many legs does a spider have?", "What is the speed of light in a vacuum?",
    "Who painted the Mona Lisa?", "How do I reverse a list in Python?",
    "What is the recommended dose of ibuprofen?", "Which planet has the most moons?",
    "How tall is Mount Kilimanjaro?", "What language is spoken in Brazil?",
    "Who invented the telephone?", "What does DNA polymerase do?",
    "How many bones are in the human body?", "What is the chemical symbol for gold?",
    "When did the Berlin Wall fall?", "What is a haiku?",
]


class CachedEmbedder:
    """The collection's embedder with a cache per text (sentences repeat across questions)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.cache, self.qcache = inner, {}, {}

    def embed(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.inner.embed(todo), strict=True):
                self.cache[t] = v
        return np.array([self.cache[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.qcache:
            self.qcache[text] = self.inner.embed_query(text)
        return self.qcache[text]


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, std = x.mean(0), x.std(0)
    std[std == 0] = 1.0
    return mean, std


def fit_listwise(groups: list[tuple[np.ndarray, np.ndarray]], *, l2: float = 1e-3,
                 steps: int = 300, lr: float = 0.5) -> dict:
    """Weights maximising the expected target under a softmax over each group's candidates
    (one group = one question's candidates; the target is 1/0 or a token F1)."""
    mean, std = _standardise(np.vstack([x for x, _ in groups]))
    zs = [((x - mean) / std, y) for x, y in groups if len(y)]
    w = np.zeros(len(mean))
    for _ in range(steps):
        grad = np.zeros_like(w)
        for z, y in zs:
            sc = z @ w
            p = np.exp(sc - sc.max())
            p /= p.sum()
            grad += z.T @ (p * (y - p @ y))
        w += lr * (grad / len(zs) - l2 * w)
    return {"mean": mean.tolist(), "std": std.tolist(), "weights": w.tolist(), "bias": 0.0}


def fit_logistic(groups: list[tuple[np.ndarray, np.ndarray]], l2: float = 1e-2,
                 steps: int = 2000) -> dict:
    """Pointwise logistic regression over all candidates."""
    x = np.vstack([x for x, _ in groups])
    y = np.concatenate([y for _, y in groups])
    mean, std = _standardise(x)
    z = (x - mean) / std
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g = p - y
        w -= 0.5 * (z.T @ g / len(y) + l2 * w)
        b -= 0.5 * float(g.mean())
    return {"mean": mean.tolist(), "std": std.tolist(), "weights": w.tolist(), "bias": b}


def score_with(model: dict, x: np.ndarray) -> np.ndarray:
    z = (x - np.asarray(model["mean"])) / np.asarray(model["std"])
    return np.asarray(z @ np.asarray(model["weights"]) + model["bias"])


def pick_rate(groups: list[tuple[np.ndarray, np.ndarray]], scorer: Any, n: int) -> float:
    """Mean target of the top-scored candidate per group, over ``n`` questions."""
    return round(sum(float(y[int(np.argmax(scorer(x)))]) for x, y in groups if len(y)) / n, 4)


def main() -> None:
    t_start = time.time()
    path = DATASETS / "xquad" / "xquad.en.json"
    if not path.exists():
        sys.exit(f"XQuAD not found at {path}")
    paragraphs, examples = load_squad(path)
    articles = list(dict.fromkeys(p.id.rsplit("-", 1)[0] for p in paragraphs))
    fit_articles = set(articles[0::2])
    col = Collection.get_or_create("xquad-en", home=HOME)
    ingest_paragraphs(col, paragraphs)
    emb = CachedEmbedder(col.embedder)
    rcfg = RetrievalConfig(mode="hybrid", k=DEFAULT_K, min_score=DEFAULT_MIN_SCORE)
    rows: list[dict[str, Any]] = []
    for n, ex in enumerate(examples):
        hits = retrieve(col, ex.question, rcfg)
        cands = sentence_candidates(ex.question, hits, embedder=emb)  # type: ignore[arg-type]
        labels = [contains_answer(c.text, ex.answers) for c in cands]
        spans = []
        for c, lab in zip(cands, labels, strict=True):
            if lab:
                for s in span_candidates(ex.question, c.text):
                    spans.append((s.features, token_f1(s.text, ex.answers),
                                  contains_answer(s.text, ex.answers)))
        rows.append({"ex": ex, "hits": hits, "cands": cands, "labels": labels, "spans": spans,
                     "fit": ex.paragraph_id.rsplit("-", 1)[0] in fit_articles})
        if n % 200 == 0:
            print(f"{n}/{len(examples)} questions featurised ({time.time() - t_start:.0f}s)",
                  flush=True)
    fit = [r for r in rows if r["fit"]]
    held = [r for r in rows if not r["fit"]]
    # model selection inside the fit set: train on half its articles, choose on the other half
    sel_articles = set(sorted(fit_articles)[0::2])
    train = [r for r in fit if r["ex"].paragraph_id.rsplit("-", 1)[0] not in sel_articles]
    dev = [r for r in fit if r["ex"].paragraph_id.rsplit("-", 1)[0] in sel_articles]

    def sgroups(rs: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.array([c.features for c in r["cands"]]), np.array(r["labels"]))
                for r in rs if r["cands"]]

    def pgroups(rs: list[dict], alpha: float) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.array([f for f, _, _ in r["spans"]]),
                 np.array([f1 + alpha * c for _, f1, c in r["spans"]])) for r in rs if r["spans"]]

    fitters = {"pointwise logistic": fit_logistic, "listwise softmax": fit_listwise}
    sentence_table: dict[str, dict[str, float]] = {}
    for i, name in enumerate(SENTENCE_FEATURES):
        sentence_table[f"feature {name} alone"] = {
            "dev": pick_rate(sgroups(dev), lambda x, i=i: x[:, i], len(dev)),
            "held_out": pick_rate(sgroups(held), lambda x, i=i: x[:, i], len(held))}
    sentence_table["hand-set weights"] = {
        "dev": pick_rate(sgroups(dev), lambda x: score_with(_DEFAULT["sentence"], x), len(dev)),
        "held_out": pick_rate(sgroups(held), lambda x: score_with(_DEFAULT["sentence"], x),
                              len(held))}
    for name, fitter in fitters.items():
        m = fitter(sgroups(train))
        sentence_table[name] = {
            "dev": pick_rate(sgroups(dev), lambda x, m=m: score_with(m, x), len(dev))}
    best_sentence = max(fitters, key=lambda k: sentence_table[k]["dev"])
    sent_model = fitters[best_sentence](sgroups(fit))
    sentence_table[best_sentence]["held_out"] = pick_rate(
        sgroups(held), lambda x: score_with(sent_model, x), len(held))
    # span: given the sentence that holds the answer, which clause? target F1 + alpha*contains
    span_table: dict[str, dict[str, float]] = {}
    span_models: dict[str, Any] = {}
    for alpha in (0.0, 0.2, 0.35):
        m = fit_listwise(pgroups(train, alpha))
        n_dev = len([r for r in dev if r["spans"]])
        span_table[f"listwise, target F1 + {alpha} contains"] = {
            "dev_f1": pick_rate(pgroups(dev, 0.0), lambda x, m=m: score_with(m, x), n_dev),
            "dev_contains": pick_rate(
                [(x, np.array([c for _, _, c in r["spans"]])) for (x, _), r in
                 zip(pgroups(dev, 0.0), [r for r in dev if r["spans"]], strict=True)],
                lambda x, m=m: score_with(m, x), n_dev)}
        span_models[f"listwise, target F1 + {alpha} contains"] = alpha
    # the goal is both contains and F1: choose the sum on dev
    best_span = max(span_table,
                    key=lambda k: span_table[k]["dev_f1"] + span_table[k]["dev_contains"])
    span_model = fit_listwise(pgroups(fit, span_models[best_span]))
    print(json.dumps(sentence_table, indent=1), json.dumps(span_table, indent=1),
          "chosen:", best_sentence, "/", best_span, flush=True)
    ceiling = round(sum(any(r["labels"]) for r in held) / len(held), 4)

    # the floor: the best sentence must share enough of the question's words (IDF-weighted)
    # or be close enough in meaning; chosen on the fit set's answerable questions and the
    # off-topic ones
    def best_features(question: str, hits: list, cands: list) -> dict[str, float] | None:
        if not cands:
            return None
        x = np.array([c.features for c in cands])
        f = cands[int(np.argmax(score_with(sent_model, x)))].features
        return dict(zip(SENTENCE_FEATURES, f, strict=True))

    fit_best = [best_features(r["ex"].question, r["hits"], r["cands"]) for r in fit]
    off_best = []
    for q in OFF_TOPIC:
        hits = retrieve(col, q, rcfg)
        off_best.append(best_features(q, hits, sentence_candidates(q, hits, embedder=emb)))  # type: ignore[arg-type]

    def passes(f: dict[str, float] | None, fo: float, fe: float) -> bool:
        return f is not None and (f["overlap_idf"] >= fo or f["embedding"] >= fe)

    floor_table = []
    for fo in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35):
        for fe in (0.35, 0.45, 0.55, 0.65, 1.1):
            floor_table.append({
                "overlap_idf": fo, "embedding": fe,
                "fit_answerable_lost": round(sum(not passes(f, fo, fe) for f in fit_best)
                                             / len(fit), 4),
                "off_topic_answered": sum(passes(f, fo, fe) for f in off_best)})
    # equal weight to the two errors: answerable questions lost, off-topic ones answered
    best_floor = min(floor_table, key=lambda r: (r["fit_answerable_lost"]
                                                 + r["off_topic_answered"] / len(OFF_TOPIC)))
    floor = {"overlap_idf": best_floor["overlap_idf"], "embedding": best_floor["embedding"]}
    print("floor", best_floor, flush=True)
    weights = {"sentence": sent_model, "span": span_model, "floor": floor}
    # end-to-end on held-out: sentence only vs span
    def end_to_end(rs: list[dict], *, span: bool, w: dict) -> dict[str, float]:
        c = f = none = 0.0
        for r in rs:
            x = extract(r["ex"].question, r["hits"], embedder=emb, weights=w,  # type: ignore[arg-type]
                        span=span)
            if x is None:
                none += 1
                continue
            c += contains_answer(x.text, r["ex"].answers)
            f += token_f1(x.text, r["ex"].answers)
        n = len(rs)
        return {"contains": round(c / n, 4), "f1": round(f / n, 4), "no_answer": round(none / n, 4)}

    e2e = {
        "whole sentence (fitted sentence scorer)": end_to_end(held, span=False, w=weights),
        "fitted span scorer": end_to_end(held, span=True, w=weights),
        "hand-set weights, span": end_to_end(held, span=True, w=_DEFAULT),
    }
    print(json.dumps(e2e, indent=1), flush=True)
    off = [extract(q, retrieve(col, q, rcfg), embedder=emb, weights=weights)  # type: ignore[arg-type]
           for q in OFF_TOPIC]
    off_answered = [(q, x.text) for q, x in zip(OFF_TOPIC, off, strict=True) if x is not None]
    col.close()
    weights["fitted_on"] = (f"XQuAD English, {len(fit_articles)} of {len(articles)} articles "
                            f"(even-numbered in file order), {len(fit)} questions")
    weights["script"] = "bench/fit_extractive.py"
    weights["features"] = {"sentence": list(SENTENCE_FEATURES), "span": list(SPAN_FEATURES)}
    if WEIGHTS_FILE.exists():  # bench/fit_auto.py's part of the file stays
        old = json.loads(WEIGHTS_FILE.read_text())
        if "agreement" in old:
            weights["agreement"] = old["agreement"]
    WEIGHTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    WEIGHTS_FILE.write_text(json.dumps(weights, indent=1) + "\n")
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    save("ask_extractive_fit", {
        "meta": {**machine(), "uptime": load, "seconds": round(time.time() - t_start, 1),
                 "fit_questions": len(fit), "held_out_questions": len(held),
                 "fit_articles": sorted(fit_articles)},
        "sentence_choice": sentence_table,
        "span_choice_dev": span_table,
        "chosen": {"sentence": best_sentence, "span": best_span},
        "sentence_ceiling_held_out": ceiling,
        "end_to_end_held_out": e2e,
        "off_topic": {"questions": len(OFF_TOPIC), "answered": off_answered},
        "floor_choice": floor_table,
        "weights": weights,
    })
    print(f"off-topic answered: {len(off_answered)}/{len(OFF_TOPIC)}", off_answered)
    print(f"done in {time.time() - t_start:.0f}s; {load}")


if __name__ == "__main__":
    main()
