"""Markdown for ``bench/results/finetune.md`` from the stage files of ``bench/finetune.py``."""

from __future__ import annotations

from typing import Any


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def build_report(data: dict[str, Any]) -> str:
    out = ["# Fine-tuning before/after", ""]
    any_stage = next(iter(data.values()), {})
    m = any_stage.get("machine", {})
    out += [f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, shared with other jobs; each "
            "figure lists the load average (1, 5, 15 min) at its start and end.", ""]
    runs = {k: v for k, v in data.items() if k.startswith("train_") and k != "train_embedder"}
    if runs:
        out += ["## LoRA on TweetEval sentiment (val) for the LLM method", "",
                _row(["run", "steps", "examples seen", "tokens", "tokens/s", "wall (load, "
                      "train, eval, export)", "stopped", "eval loss", "load start", "load end"]),
                _row(["---"] * 10)]
        for name, tr in runs.items():
            r = tr["report"]
            ev = r["evals"][-1]["loss"] if r.get("evals") else "-"
            out.append(_row([
                name[len("train_"):], f"{r['steps']}/{r['total_steps']}",
                r["steps"] * r["config"]["batch_size"] * r["config"]["grad_accum"],
                r["train_tokens"], r["tokens_per_s"], f"{tr['wall_s']:.0f} s", r["stopped"],
                ev, tr["loadavg_start"], tr["loadavg_end"]]))
        out.append("")
        for name, tr in runs.items():
            out.append(f"- {name[len('train_'):]}: `ponder {tr['command']}`")
        out.append("")
    sents = {k[len("sentiment_"):]: v for k, v in data.items() if k.startswith("sentiment_")}
    if sents:
        out += ["### Sentiment, LLM method (label log-likelihood) on TweetEval test", "",
                _row(["model", "n", "accuracy", "macro-F1", "predicted", "tweets/s", "load"]),
                _row(["---"] * 7)]
        for tag, s in sents.items():
            out.append(_row([f"{tag}: `{s['model']}`", s["n"], s["accuracy"], s["macro_f1"],
                             s["predicted"], s["tweets_per_s"],
                             f"{s['loadavg_start']} -> {s['loadavg_end']}"]))
        out.append("")
    ppls = {k[len("ppl_"):]: v for k, v in data.items() if k.startswith("ppl_")}
    if ppls:
        out += ["### Other abilities: perplexity before/after (lower is better)", "",
                _row(["model", "WMT22 en refs", "tokens", "FRANK articles", "tokens", "load"]),
                _row(["---"] * 6)]
        for tag, p in ppls.items():
            w, f = p["wmt22_en_refs"], p["frank_articles"]
            out.append(_row([f"{tag}: `{p['model']}`", w["perplexity"], w["tokens"],
                             f["perplexity"], f["tokens"],
                             f"{p['loadavg_start']} -> {p['loadavg_end']}"]))
        out.append("")
    ag = data.get("agree")
    if ag:
        out += ["### GGUF export vs the merged model (greedy, "
                f"{ag['max_new_tokens']} new tokens)", "",
                f"{ag['identical']} of {ag['prompts']} prompts give identical text.", "",
                _row(["prompt", "identical", "common prefix (chars)", "merged HF", "GGUF"]),
                _row(["---"] * 5)]
        for r in ag["records"]:
            out.append(_row([r["prompt"], r["identical"], r["common_prefix_chars"],
                             r["hf"].replace("\n", " ")[:80], r["gguf"].replace("\n", " ")[:80]]))
        out.append("")
    te = data.get("train_embedder")
    if te:
        r = te["report"]
        out += ["## MiniLM on SciFact train", "", f"Command: `ponder {te['command']}`", "",
                f"{r['pairs']} pairs, {r['steps']} steps, {r['wall_s']} s, "
                f"{r['texts_per_s']} texts/s, load {te['loadavg_start']} -> "
                f"{te['loadavg_end']}", ""]
    rets = {k[len("retrieval_"):]: v for k, v in data.items() if k.startswith("retrieval_")}
    if rets:
        out += [_row(["embedder", "dense nDCG@10", "hybrid nDCG@10"]), _row(["---"] * 3)]
        for tag, rv in rets.items():
            res = rv["report"]["results"]
            out.append(_row([tag, res.get("dense", {}).get("metrics", {}).get("ndcg@10"),
                             res.get("hybrid", {}).get("metrics", {}).get("ndcg@10")]))
        out.append("")
    out += ["## Reading these figures", "",
            "- **Goal not met.** The goal was macro-F1 >= 0.60 after <= 30 min of training. On "
            "this shared machine (load average 20-27 during run `lora`) training ran at 12 "
            "tokens/s: 30 minutes covered 260 of the 1,960 training tweets, and the model "
            "learned the label prior only (it answers `neutral` for every test tweet: macro-F1 "
            "0.219, the majority-class figure). Run `lora2` (class-balanced data, lower learning "
            "rate, 10 minutes at load 5-8, 29 tokens/s, 208 tweets) moved toward the other "
            "labels but stays below the untrained model (0.296 vs 0.342).",
            "- A full epoch over the 1,960 tweets is ~167,000 tokens: ~1.6 h at 29 tokens/s, "
            "~3.8 h at 12. The 30-minute budget would need ~90 tokens/s, i.e. a machine not "
            "shared with other jobs.",
            "- **Base row** is measured in this session (same seed-0 subset of 300 test tweets, "
            "same pipeline and scorer as `bench/tasks.py`): 0.342, identical to the published "
            "figure. The fine-tuned rows score `model.gguf` (Q8_0) through the public pipeline.",
            "- **Other abilities** barely moved: perplexity +0.5% on WMT22 English references, "
            "+1.8% on FRANK articles (run `lora`, merged model vs the dequantized base, both "
            "fp32 in transformers). Greedy answers show one regression: the tuned model ends "
            "`List three fruits.` at once (it learned one-word replies).",
            "- **GGUF agreement**: 5 of 8 greedy continuations identical; the rest part at a "
            "near-tie token under Q8_0 (the integration test checks label log-probabilities "
            "of the merged model and the GGUF agree within 0.5 nats and rank alike).",
            "- **Embedder (SciFact)**: not measured in this session; re-embedding the 5,183 "
            "abstracts with a tuned MiniLM did not fit the time left on the loaded machine.",
            ""]
    return "\n".join(out) + "\n"
