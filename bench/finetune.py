"""Fine-tuning before/after: sentiment by LoRA instruction tuning, retrieval by embedder tuning.

Stages (each writes ``bench/results/finetune/<stage>.json``; ``report`` assembles them into
``bench/results/finetune.json`` and ``finetune.md``)::

    python bench/finetune.py data                 # TweetEval val -> 1,960 train / 40 eval
    python bench/finetune.py train-llm --max-minutes 30
    python bench/finetune.py sentiment --model smollm2 --tag base --n 300
    python bench/finetune.py sentiment --model OUT/model.gguf --tag lora --n 300
    python bench/finetune.py ppl --model default --tag base
    python bench/finetune.py ppl --model OUT/merged --tag lora
    python bench/finetune.py agree --out OUT           # merged HF vs GGUF greedy outputs
    python bench/finetune.py sentiment-batch --model OUT/merged --tag lora --n 300 --threads 1
    python bench/finetune.py train-embedder
    python bench/finetune.py retrieval --embedder OUT_EMB --tag ft
    python bench/finetune.py embedder-split            # SciFact train -> train80 / heldout
    python bench/finetune.py train-embedder --split train80 --name minilm-h80 --hard-negatives
    python bench/finetune.py fit-fusion --embedder WORK/minilm-h80 --tag h80
    python bench/finetune.py retrieval --embedder WORK/minilm-h80 --tag split-h80 --weights D,B
    python bench/finetune.py report

Sentiment: the LLM method through the public pipeline
(``ponder.pipeline("sentiment-analysis", model=..., labels=[negative, neutral, positive])``,
label log-likelihood), on the fixed seed-0 subset of the TweetEval test split that
``bench/tasks.py`` reports (``ponder.evaluate.tasks_eval.load_tweeteval``). The training
prompt is that pipeline's own prompt, so the model learns the reply the scorer reads.
``sentiment-batch`` computes the same label log-probabilities in batches on a Hugging Face
folder (the prompt tokens every tweet shares run once; checked against the pipeline on the
first tweets) and adds diagnostic decision rules. Fusion weights are chosen on held-out *train*
queries only (``fit-fusion``); the test split is scored once with the chosen weights (the
``retrieval`` stage with a ``split-*`` tag reuses the collection ``fit-fusion`` embedded).
Everything runs on the shared 2-core machine; each stage records ``uptime`` beside its figures.
Under load, train with ``--threads 1``: two torch threads on an oversubscribed machine wait on
each other (measured: 6.7 tokens/s with two threads against ~40 with one, at load 7-13).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import DATASETS, RESULTS, machine

STAGES = RESULTS / "finetune"
WORK = Path(os.environ.get("PONDER_BENCH_WORK", "/tmp/ponder-finetune-bench"))
ROOT = Path(__file__).resolve().parents[1]


def load() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "?"


def write_stage(name: str, data: dict[str, Any]) -> None:
    STAGES.mkdir(parents=True, exist_ok=True)
    data = {"stage": name, "machine": machine(), "loadavg_end": load(), **data}
    (STAGES / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))
    print(json.dumps({k: v for k, v in data.items() if k not in ("records", "losses")},
                     indent=1, default=str)[:3000])


def sentiment_prompt(text: str, labels: list[str]) -> str:
    from ponder.prompts.template import PromptTemplate
    from ponder.tasks.sentiment import SENTIMENT_PROMPT

    return PromptTemplate(SENTIMENT_PROMPT).fill(text=text, labels=", ".join(labels))


def stage_data(args: argparse.Namespace) -> None:
    from ponder.evaluate.tasks_eval import SENTIMENT_NAMES, load_tweeteval

    texts, gold = load_tweeteval(None, 0, split="val")
    labels = list(SENTIMENT_NAMES)
    WORK.mkdir(parents=True, exist_ok=True)
    rows = [{"prompt": sentiment_prompt(t, labels), "completion": g}
            for t, g in zip(texts, gold, strict=True)]
    # every 50th tweet to eval (40: the per-epoch eval costs CPU time too), the rest to train
    ev = [r for i, r in enumerate(rows) if i % 50 == 49]
    tr = [r for i, r in enumerate(rows) if i % 50 != 49]
    # balanced: every class cut to the rarest class's count (macro-F1 weighs classes alike)
    by: dict[str, list[dict[str, str]]] = {}
    for r in tr:
        by.setdefault(r["completion"], []).append(r)
    k = min(len(v) for v in by.values())
    bal = [r for i in range(k) for lab in sorted(by) for r in [by[lab][i]]]
    for name, part in (("train", tr), ("eval", ev), ("balanced", bal)):
        with (WORK / f"sentiment_{name}.jsonl").open("w") as f:
            for r in part:
                f.write(json.dumps(r) + "\n")
    print(f"wrote {len(tr)} train and {len(ev)} eval examples to {WORK}")


def stage_train_llm(args: argparse.Namespace) -> None:
    out = WORK / args.name
    cmd = [str(ROOT / ".venv/bin/ponder"), "finetune", "llm",
           "--data", str(WORK / f"sentiment_{args.train}.jsonl"),
           "--eval", str(WORK / "sentiment_eval.jsonl"), "--out", str(out),
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--lr", str(args.lr), "--lora-r", str(args.lora_r), "--lora-alpha",
           str(args.lora_alpha), "--max-length", "256", "--save-every", str(args.save_every),
           "--threads", str(args.threads), "--bf16", args.bf16, "--json"]
    if args.lora_layers:
        cmd += ["--lora-layers", str(args.lora_layers)]
    if args.max_minutes:
        cmd += ["--max-minutes", str(args.max_minutes)]
    cmd += ["--resume"] if args.resume else ["--overwrite"]
    load0 = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"training failed:\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    write_stage(f"train_{args.name}", {"command": " ".join(cmd[1:]), "loadavg_start": load0,
                              "wall_s": round(wall, 1), "report": report})


def stage_sentiment(args: argparse.Namespace) -> None:
    from collections import Counter

    from ponder.evaluate.tasks_eval import SENTIMENT_NAMES, load_tweeteval
    from ponder.evaluate.text_metrics import accuracy, macro_f1
    from ponder.llm import load_generator
    from ponder.tasks import pipeline

    texts, gold = load_tweeteval(args.n, 0)
    labels = list(SENTIMENT_NAMES)
    gen = load_generator(args.model, n_threads=args.threads)
    opts: dict[str, Any] = {"labels": labels, "method": "llm"}
    clf = pipeline("sentiment-analysis", model=gen, **opts)
    load0 = load()
    t0 = time.perf_counter()
    pred = [clf(t)["label"] for t in texts]
    secs = time.perf_counter() - t0
    rep = {"accuracy": round(accuracy(gold, pred), 4),
           "macro_f1": round(macro_f1(gold, pred, labels), 4)}
    write_stage(f"sentiment_{args.tag}", {
        "model": args.model, "n": len(texts), "subset": "TweetEval sentiment test, seed-0 "
        f"subset of {args.n} (the one bench/tasks.py uses)", "loadavg_start": load0,
        "seconds": round(secs, 1), "tweets_per_s": round(len(texts) / secs, 3),
        "predicted": dict(Counter(pred)), "gold": dict(Counter(gold)), **rep})


SENT_FORMS = "negative,Negative,neutral,Neutral,positive,Positive"


def _form_scores(gen: Any, prompts: list[str], forms: list[str], *, batch_size: int,
                 bf16: bool = False) -> Any:
    """``(n, len(forms))`` total log-probabilities of each form as the reply to each prompt,
    exactly what ``Generator.logprobs`` returns (same prompt ids through the generator's chat
    template, same continuation ids), computed in batches: the prompt tokens every prompt
    starts with run once, and every form but one multi-token form is read from the
    next-token distribution at the end of the prompt."""
    import contextlib

    import numpy as np
    import torch

    from ponder.finetune.data import TokenizedExample
    from ponder.finetune.prefix import shared_prefix_length

    gen._load()
    model = gen._model
    cids = [gen._encode_text(f) for f in forms]
    multi = [i for i, c in enumerate(cids) if len(c) > 1]
    if len(multi) > 1:
        sys.exit(f"at most one multi-token form is supported: {forms}")
    extra = cids[multi[0]][:-1] if multi else []
    rows = [gen._encode(gen.prepare_prompt(p)) for p in prompts]
    prefix = shared_prefix_length([TokenizedExample(tuple(r + extra), tuple(
        [-100] * len(r) + [0] * len(extra))) for r in rows]) if len(rows) > 1 else 0
    head_cache = None
    kw = gen._cache_kw
    out = np.zeros((len(rows), len(forms)))
    ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext())
    with torch.no_grad(), ctx:
        if prefix:
            h = model(input_ids=torch.tensor([rows[0][:prefix]]), use_cache=True)
            head_cache = getattr(h, "cache", None) or h.past_key_values
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        keep = len(extra) + 1
        for lo in range(0, len(order), batch_size):
            idx = order[lo:lo + batch_size]
            tails = [rows[i][prefix:] + extra for i in idx]
            width = max(len(t) for t in tails)
            # left-padded tails: the positions read are the last `keep` of every row
            ids = torch.zeros((len(idx), width), dtype=torch.long)
            mask = torch.zeros((len(idx), prefix + width), dtype=torch.long)
            pos = torch.full((len(idx), width), prefix, dtype=torch.long)
            mask[:, :prefix] = 1
            for r, t in enumerate(tails):
                ids[r, width - len(t):] = torch.tensor(t)
                mask[r, prefix + width - len(t):] = 1
                pos[r, width - len(t):] = torch.arange(prefix, prefix + len(t))
            args: dict[str, Any] = {"input_ids": ids, "attention_mask": mask,
                                    "position_ids": pos, "logits_to_keep": keep}
            if prefix:
                cache = copy.deepcopy(head_cache)
                cache.batch_repeat_interleave(len(idx))
                args[kw] = cache
            logp = torch.log_softmax(model(**args).logits[:, -keep:].float(), dim=-1)
            for r, i in enumerate(idx):
                for f, c in enumerate(cids):
                    out[i, f] = sum(float(logp[r, k, c[k]]) for k in range(len(c)))
    return out


def _label_scores(forms_lp: Any, forms: list[str], labels: list[str], gen: Any,
                  normalize: str) -> Any:
    """Per-label scores from per-form log-probabilities, as ``label_logprobs`` combines them
    (``normalize``: auto, sum or mean; log-sum-exp over each label's forms)."""
    import numpy as np

    counts = np.array([max(1, len(gen._encode_text(f))) for f in forms])
    mode = normalize if normalize != "auto" else ("sum" if len(set(counts)) == 1 else "mean")
    s = forms_lp / counts if mode == "mean" else forms_lp
    out = np.zeros((len(s), len(labels)))
    for j, lab in enumerate(labels):
        cols = [k for k, f in enumerate(forms) if f.lower() == lab.lower()]
        out[:, j] = np.logaddexp.reduce(s[:, cols], axis=1)
    return out


def _f1_report(gold: list[str], scores: Any, labels: list[str]) -> dict[str, Any]:
    from collections import Counter

    from ponder.evaluate.text_metrics import accuracy, macro_f1

    pred = [labels[int(k)] for k in scores.argmax(1)]
    return {"macro_f1": round(macro_f1(gold, pred, labels), 4),
            "accuracy": round(accuracy(gold, pred), 4), "predicted": dict(Counter(pred))}


def stage_sentiment_batch(args: argparse.Namespace) -> None:
    """The LLM method's label scores for many tweets at once (``_form_scores``), checked
    against the public pipeline on the first ``--check`` tweets; reports the pipeline's own
    decision rule and, as diagnostics, the single-token sum rule; with ``--prior`` the
    pipeline's batch calibration too (``fit_prior``: the prior is the model's mean predicted
    distribution over the 1,960 training tweets, unlabeled), checked against the pipeline
    given that prior (``prior=``)."""
    import numpy as np
    import torch

    from ponder.evaluate.tasks_eval import SENTIMENT_NAMES, load_tweeteval
    from ponder.llm import load_generator
    from ponder.tasks import pipeline

    torch.set_num_threads(args.threads)
    labels = list(SENTIMENT_NAMES)
    forms = SENT_FORMS.split(",")
    texts, gold = load_tweeteval(args.n, 0)
    gen = load_generator(args.model, n_threads=args.threads)
    gen._load()
    load0 = load()
    t0 = time.perf_counter()
    prompts = [sentiment_prompt(t, labels) for t in texts]
    if args.forms:  # the test tweets' form scores from an earlier run of this stage
        lp = np.load(args.forms)
        if lp.shape != (len(texts), len(forms)):
            raise SystemExit(f"{args.forms}: shape {lp.shape}, want {(len(texts), len(forms))}")
    else:
        lp = _form_scores(gen, prompts, forms, batch_size=args.batch_size)
    secs = time.perf_counter() - t0
    clf = pipeline("sentiment-analysis", model=gen, labels=labels, method="llm")
    check = []
    for i in range(min(args.check, len(texts))):
        want = clf(texts[i])["scores"]
        got = torch.softmax(torch.tensor(_label_scores(lp[i:i + 1], forms, labels, gen,
                                                       "auto")[0]), 0).tolist()
        check.append(max(abs(want[lab] - g) for lab, g in zip(labels, got, strict=True)))
    res: dict[str, Any] = {"auto (pipeline)": _f1_report(gold, _label_scores(
        lp, forms, labels, gen, "auto"), labels)}
    cal = pipeline("sentiment-analysis", model=gen, labels=labels, method="llm", calibrate=True)
    cf_prior = np.array(cal.prior())
    auto = _label_scores(lp, forms, labels, gen, "auto")
    res["auto (pipeline), calibrate=True"] = _f1_report(
        gold, auto - np.logaddexp.reduce(auto, axis=1, keepdims=True) - np.log(cf_prior), labels)
    single = [k for k, f in enumerate(forms) if len(gen._encode_text(f)) == 1]
    res["sum over single-token forms"] = _f1_report(gold, _label_scores(
        lp[:, single], [forms[k] for k in single], labels, gen, "sum"), labels)
    prior_info = None
    check_prior: list[float] = []
    if args.prior:
        vt, _ = load_tweeteval(None, 0, split="val")
        vt = [t for i, t in enumerate(vt) if i % 50 != 49]  # the 1,960 training tweets
        vlp = _form_scores(gen, [sentiment_prompt(t, labels) for t in vt], forms,
                           batch_size=args.batch_size)
        np.save(WORK / f"sentiment_{args.tag}_val_forms.npy", vlp)
        for name, sub, fs in (("auto (pipeline)", slice(None), forms),
                              ("sum over single-token forms", single,
                               [forms[k] for k in single])):
            vs = _label_scores(vlp[:, sub], fs, labels, gen, "auto" if sub == slice(None)
                               else "sum")
            vp = np.exp(vs - np.logaddexp.reduce(vs, axis=1, keepdims=True)).mean(0)
            ts = _label_scores(lp[:, sub], fs, labels, gen, "auto" if sub == slice(None)
                               else "sum")
            ts = ts - np.logaddexp.reduce(ts, axis=1, keepdims=True) - np.log(vp)
            res[f"{name}, prior-corrected"] = _f1_report(gold, ts, labels)
            if sub == slice(None):  # the public path: the pipeline with this prior
                fitted = clf.replace(prior=tuple(float(v) for v in vp))
                got = np.exp(ts - np.logaddexp.reduce(ts, axis=1, keepdims=True))
                check_prior = [max(abs(fitted(texts[i])["scores"][lab] - got[i, j])
                                   for j, lab in enumerate(labels))
                               for i in range(min(args.check, len(texts)))]
            prior_info = {**(prior_info or {}), name: dict(zip(labels, vp.round(4).tolist(),
                                                              strict=True))}
    np.save(WORK / f"sentiment_{args.tag}_forms.npy", lp)
    write_stage(f"sentiment_{args.tag}", {
        "model": args.model, "n": len(texts), "method": "llm (label log-likelihood), batched",
        "subset": "all TweetEval sentiment test tweets" if args.n is None else
        f"seed-0 subset of {args.n}", "loadavg_start": load0,
        "test_forms_from": args.forms,
        "seconds": None if args.forms else round(secs, 1),
        "tweets_per_s": None if args.forms else round(len(texts) / secs, 2),
        "threads": args.threads,
        "pipeline_check": {"tweets": len(check), "max_abs_prob_diff": max(check, default=None)},
        "pipeline_check_prior": {"tweets": len(check_prior),
                                 "max_abs_prob_diff": max(check_prior, default=None)},
        "gold": dict(Counter(gold)), "prior_from_val": prior_info,
        "content_free_prior": dict(zip(labels, cf_prior.round(4).tolist(), strict=True)),
        "results": res,
        **res["auto (pipeline)"]})


def stage_ppl(args: argparse.Namespace) -> None:
    from ponder.finetune.perplexity import load_for_perplexity, perplexity

    ref = DATASETS / "wmt22_en_de" / "generaltest2022.de-en.ref.A.en"
    wmt = [s for s in ref.read_text(encoding="utf-8").splitlines() if s.strip()][:args.wmt]
    frank = []
    with (DATASETS / "frank_summarization" / "summaries.jsonl").open() as f:
        for line in f:
            frank.append(json.loads(line)["article"])
            if len(frank) >= args.frank:
                break
    model, tok, name = load_for_perplexity(args.model, threads=args.threads)
    load0 = load()
    res = {
        "wmt22_en_refs": perplexity(model, tok, wmt, window=512, stride=256, batch_size=8,
                                    name=name, source=f"{ref.name}, first {len(wmt)} lines"
                                    ).to_dict(),
        "frank_articles": perplexity(model, tok, frank, window=512, stride=256, batch_size=2,
                                     name=name, source=f"FRANK summaries.jsonl articles, first "
                                     f"{len(frank)}").to_dict(),
    }
    write_stage(f"ppl_{args.tag}", {"model": args.model, "loadavg_start": load0, **res})


def stage_agree(args: argparse.Namespace) -> None:
    from ponder.llm import load_generator

    out = Path(args.out)
    prompts = [
        "What is the capital of France?", "Write a haiku about the sea.",
        "Explain what a CPU does in one sentence.", "List three fruits.",
        "What is 12 times 7?", "Translate 'good morning' into Spanish.",
        "Give me a tip for learning to code.", "Who wrote Romeo and Juliet?",
    ]
    hf = load_generator(str(out / "merged"), n_threads=args.threads)
    gg = load_generator(str(out / "model.gguf"), n_threads=args.threads)
    rows = []
    for p in prompts:
        a = hf.complete(p, max_new_tokens=args.tokens, strategy="greedy").text
        b = gg.complete(p, max_new_tokens=args.tokens, strategy="greedy").text
        ta, tb = hf.count_tokens(a) if a else 0, gg.count_tokens(b) if b else 0
        same = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            same += 1
        rows.append({"prompt": p, "hf": a, "gguf": b, "identical": a == b,
                     "common_prefix_chars": same, "hf_tokens": ta, "gguf_tokens": tb})
    write_stage("agree", {"out": str(out), "max_new_tokens": args.tokens,
                          "identical": sum(r["identical"] for r in rows), "prompts": len(rows),
                          "records": rows})


SPLIT_DIR = WORK / "beir_scifact_split"


def stage_embedder_split(args: argparse.Namespace) -> None:
    """A BEIR folder beside SciFact whose qrels split the *train* queries: every 5th query
    (sorted by id) is ``heldout`` (for choosing fusion weights), the rest ``train80``; ``test``
    is the real test split. Corpus and queries are links to the shared files."""
    src = DATASETS / "beir_scifact"
    (SPLIT_DIR / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        link = SPLIT_DIR / name
        if not link.exists():
            link.symlink_to(src / name)
    lines = (src / "qrels" / "train.tsv").read_text().splitlines()
    header, rows = lines[0], [ln for ln in lines[1:] if ln.strip()]
    qids = sorted({r.split("\t")[0] for r in rows}, key=lambda q: (len(q), q))
    held = set(qids[4::5])
    for split, keep in (("heldout", True), ("train80", False)):
        part = [r for r in rows if (r.split("\t")[0] in held) == keep]
        (SPLIT_DIR / "qrels" / f"{split}.tsv").write_text("\n".join([header, *part]) + "\n")
    print(f"{SPLIT_DIR}: {len(qids) - len(held)} train80 queries, {len(held)} heldout")


def stage_train_embedder(args: argparse.Namespace) -> None:
    out = WORK / args.name
    beir = SPLIT_DIR if args.split != "train" else DATASETS / "beir_scifact"
    cmd = [str(ROOT / ".venv/bin/ponder"), "finetune", "embedder",
           "--beir", str(beir), "--split", args.split, "--out", str(out),
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--lr", str(args.lr), "--threads", str(args.threads), "--overwrite", "--json"]
    if args.hard_negatives:
        cmd.append("--hard-negatives")
    load0 = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"embedder training failed:\n{proc.stderr[-3000:]}")
    write_stage(f"train_{args.name}", {"command": " ".join(cmd[1:]), "loadavg_start": load0,
                                   "wall_s": round(time.perf_counter() - t0, 1),
                                   "report": json.loads(proc.stdout)})


def stage_fit_fusion(args: argparse.Namespace) -> None:
    """Choose hybrid z-score weights on the *held-out train* queries (``embedder-split``),
    for the embedder given: dense, BM25 and every weight of the grid, nDCG@10 each."""
    from ponder.evaluate.beir import ingest_corpus, load_beir
    from ponder.evaluate.retrieval import evaluate_beir
    from ponder.rag.retrieve import RetrievalConfig
    from ponder.store.collection import Collection

    if args.threads:
        os.environ["PONDER_THREADS"] = str(args.threads)
    data = load_beir(SPLIT_DIR, "heldout")
    load0 = load()
    t0 = time.perf_counter()
    col = Collection.get_or_create(f"scifact-split-{args.tag}", home=WORK / "home",
                                   embedder=args.embedder)
    rows: list[dict[str, Any]] = []
    with col:
        ingest_corpus(col, data.corpus)
        embed_s = time.perf_counter() - t0
        for mode in ("dense", "bm25"):
            r = evaluate_beir(col, data, RetrievalConfig(mode=mode))
            rows.append({"mode": mode, **r.metrics})
        for w in args.grid:
            cfg = RetrievalConfig(mode="hybrid", fusion="zscore", weights=(w, 1 - w))
            r = evaluate_beir(col, data, cfg)
            rows.append({"mode": "hybrid", "weights": [w, round(1 - w, 3)], **r.metrics})
        model = col.model_id
    hybrid = [r for r in rows if r["mode"] == "hybrid"]
    best = max(hybrid, key=lambda r: (round(r["ndcg@10"], 4), -abs(r["weights"][0] - 0.5)))
    write_stage(f"fusion_{args.tag}", {
        "embedder": args.embedder or "default", "model": model, "split": "heldout (every 5th "
        "SciFact train query by id; the embedder never saw them)", "queries": len(data.queries),
        "loadavg_start": load0, "embed_s": round(embed_s, 1), "grid": rows,
        "best_weights": best["weights"], "best_ndcg@10": best["ndcg@10"]})


def stage_retrieval(args: argparse.Namespace) -> None:
    home = WORK / "home"
    cmd = [str(ROOT / ".venv/bin/ponder"), "--home", str(home), "eval", "retrieval",
           "--beir", str(DATASETS / "beir_scifact"), "--split", "test",
           "--retrieval", "dense,hybrid", "--collection", f"scifact-{args.tag}", "--json"]
    if args.embedder:
        cmd += ["--embedder", args.embedder]
    if args.weights:
        cmd += ["--weights", args.weights]
    load0 = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PONDER_THREADS": str(args.threads)})
    if proc.returncode != 0:
        sys.exit(f"retrieval eval failed:\n{proc.stderr[-3000:]}")
    write_stage(f"retrieval_{args.tag}", {"command": " ".join(cmd[1:]), "loadavg_start": load0,
                                          "wall_s": round(time.perf_counter() - t0, 1),
                                          "report": json.loads(proc.stdout)})


def stage_report(args: argparse.Namespace) -> None:
    from finetune_report import build_report

    data = {p.stem: json.loads(p.read_text()) for p in sorted(STAGES.glob("*.json"))}
    md = build_report(data)
    (RESULTS / "finetune.json").write_text(json.dumps(data, indent=1, default=str))
    (RESULTS / "finetune.md").write_text(md)
    print(md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="stage", required=True)
    sub.add_parser("data")
    t = sub.add_parser("train-llm")
    t.add_argument("--epochs", type=int, default=2)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lr", type=float, default=3e-4)
    t.add_argument("--lora-r", type=int, default=16)
    t.add_argument("--lora-alpha", type=int, default=16)
    t.add_argument("--save-every", type=int, default=10)
    t.add_argument("--max-minutes", type=float, default=30)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--lora-layers", type=int, default=None)
    t.add_argument("--bf16", default="auto")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--name", default="lora", help="output folder under WORK and stage name")
    t.add_argument("--train", default="train", help="train (1,960) or balanced")
    s = sub.add_parser("sentiment")
    s.add_argument("--model", required=True)
    s.add_argument("--tag", required=True)
    s.add_argument("--n", type=int, default=300)
    s.add_argument("--threads", type=int, default=1)
    sb = sub.add_parser("sentiment-batch")
    sb.add_argument("--model", required=True, help="a Hugging Face folder (OUT/merged)")
    sb.add_argument("--tag", required=True)
    sb.add_argument("--n", type=int, default=None, help="seed-0 subset size (default: all)")
    sb.add_argument("--threads", type=int, default=2)
    sb.add_argument("--batch-size", type=int, default=32)
    sb.add_argument("--check", type=int, default=20, help="tweets checked against the pipeline")
    sb.add_argument("--prior", action="store_true", help="also score the 1,960 val tweets")
    sb.add_argument("--forms", default=None,
                    help="reuse the test tweets' form scores saved by an earlier run (.npy)")
    p = sub.add_parser("ppl")
    p.add_argument("--model", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--wmt", type=int, default=200)
    p.add_argument("--frank", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = sub.add_parser("agree")
    a.add_argument("--out", default=str(WORK / "lora"))
    a.add_argument("--tokens", type=int, default=32)
    a.add_argument("--threads", type=int, default=1)
    e = sub.add_parser("train-embedder")
    e.add_argument("--epochs", type=int, default=1)
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--lr", type=float, default=2e-5)
    e.add_argument("--hard-negatives", action="store_true")
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--split", default="train", help="train (all 809 queries) or train80")
    e.add_argument("--name", default="minilm-scifact", help="output folder under WORK")
    sub.add_parser("embedder-split")
    ff = sub.add_parser("fit-fusion")
    ff.add_argument("--embedder", default=None, help="an embedder folder (default: MiniLM)")
    ff.add_argument("--tag", required=True)
    ff.add_argument("--threads", type=int, default=1)
    ff.add_argument("--grid", type=float, nargs="+",
                    default=[0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7])
    r = sub.add_parser("retrieval")
    r.add_argument("--embedder", default=None)
    r.add_argument("--tag", required=True)
    r.add_argument("--weights", default=None, help="hybrid DENSE,BM25 (default: 0.5,0.5)")
    r.add_argument("--threads", type=int, default=2)
    sub.add_parser("report")
    args = ap.parse_args()
    {"data": stage_data, "train-llm": stage_train_llm, "sentiment": stage_sentiment,
     "sentiment-batch": stage_sentiment_batch,
     "ppl": stage_ppl, "agree": stage_agree, "train-embedder": stage_train_embedder,
     "embedder-split": stage_embedder_split, "fit-fusion": stage_fit_fusion,
     "retrieval": stage_retrieval, "report": stage_report}[args.stage](args)


if __name__ == "__main__":
    main()
