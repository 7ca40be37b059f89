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
    python bench/finetune.py train-embedder
    python bench/finetune.py retrieval --embedder OUT_EMB --tag ft
    python bench/finetune.py report

Sentiment: the LLM method through the public pipeline
(``ponder.pipeline("sentiment-analysis", model=..., labels=[negative, neutral, positive])``,
label log-likelihood), on the fixed seed-0 subset of the TweetEval test split that
``bench/tasks.py`` reports (``ponder.evaluate.tasks_eval.load_tweeteval``). The training
prompt is that pipeline's own prompt, so the model learns the reply the scorer reads.
Everything runs on the shared 2-core machine; each stage records ``uptime`` beside its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
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
           "--lr", str(args.lr), "--lora-r", str(args.lora_r), "--max-length", "256",
           "--save-every", "10", "--threads", str(args.threads), "--bf16", args.bf16, "--json"]
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


def stage_train_embedder(args: argparse.Namespace) -> None:
    out = WORK / "minilm-scifact"
    cmd = [str(ROOT / ".venv/bin/ponder"), "finetune", "embedder",
           "--beir", str(DATASETS / "beir_scifact"), "--split", "train", "--out", str(out),
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--lr", str(args.lr), "--threads", str(args.threads), "--overwrite", "--json"]
    if args.hard_negatives:
        cmd.append("--hard-negatives")
    load0 = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"embedder training failed:\n{proc.stderr[-3000:]}")
    write_stage("train_embedder", {"command": " ".join(cmd[1:]), "loadavg_start": load0,
                                   "wall_s": round(time.perf_counter() - t0, 1),
                                   "report": json.loads(proc.stdout)})


def stage_retrieval(args: argparse.Namespace) -> None:
    home = WORK / "home"
    cmd = [str(ROOT / ".venv/bin/ponder"), "--home", str(home), "eval", "retrieval",
           "--beir", str(DATASETS / "beir_scifact"), "--split", "test",
           "--retrieval", "dense,hybrid", "--collection", f"scifact-{args.tag}", "--json"]
    if args.embedder:
        cmd += ["--embedder", args.embedder]
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
    r = sub.add_parser("retrieval")
    r.add_argument("--embedder", default=None)
    r.add_argument("--tag", required=True)
    r.add_argument("--threads", type=int, default=2)
    sub.add_parser("report")
    args = ap.parse_args()
    {"data": stage_data, "train-llm": stage_train_llm, "sentiment": stage_sentiment,
     "ppl": stage_ppl, "agree": stage_agree, "train-embedder": stage_train_embedder,
     "retrieval": stage_retrieval, "report": stage_report}[args.stage](args)


if __name__ == "__main__":
    main()
