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
    runs = {k: v for k, v in data.items() if k.startswith("train_")
            and "train_tokens" in v.get("report", {})}
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
        diag = {t: s for t, s in sents.items() if "results" in s}
        if diag:
            prior = any("prior-corrected" in r for s in diag.values() for r in s["results"])
            out += ["Decision rules on the same label log-probabilities (the pipeline's is "
                    "`auto`; `calibrate=True` is its content-free prior option"
                    + ("; the prior-corrected rows divide by the model's mean prediction on "
                       "the 1,960 training tweets" if prior else "") + "):", "",
                    _row(["model", "n", "rule", "macro-F1", "accuracy", "predicted"]),
                    _row(["---"] * 6)]
            for tag, s in diag.items():
                for rule, r in s["results"].items():
                    out.append(_row([tag, s["n"], rule, r["macro_f1"], r["accuracy"],
                                     r["predicted"]]))
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
    embs = {k: v for k, v in data.items() if k.startswith("train_")
            and "texts_per_s" in v.get("report", {})}
    if embs:
        out.append("## MiniLM on SciFact train")
        out.append("")
    for name, te in embs.items():
        r = te["report"]
        out += [f"- {name[len('train_'):]}: `ponder {te['command']}`: {r['pairs']} pairs "
                f"({r['hard_negatives']} with a BM25 hard negative), {r['steps']} steps, "
                f"{r['wall_s']} s, {r['texts_per_s']} texts/s, load {te['loadavg_start']} -> "
                f"{te['loadavg_end']}"]
    if embs:
        out.append("")
    fus = {k[len("fusion_"):]: v for k, v in data.items() if k.startswith("fusion_")}
    for tag, fv in fus.items():
        out += [f"Fusion weights for `{tag}` ({fv['embedder']}), chosen on {fv['queries']} "
                f"{fv['split']}: best z-score weights {fv['best_weights']} (nDCG@10 "
                f"{fv['best_ndcg@10']:.4f}).", "",
                _row(["mode", "weights (dense, BM25)", "nDCG@10", "recall@100"]),
                _row(["---"] * 4)]
        for g in fv["grid"]:
            out.append(_row([g["mode"], g.get("weights", "-"), f"{g['ndcg@10']:.4f}",
                             f"{g['recall@100']:.4f}"]))
        out.append("")
    rets = {k[len("retrieval_"):]: v for k, v in data.items() if k.startswith("retrieval_")}
    if rets:
        out += ["SciFact test (300 queries):", "",
                _row(["embedder", "dense nDCG@10", "hybrid nDCG@10", "hybrid weights", "load"]),
                _row(["---"] * 5)]
        for tag, rv in rets.items():
            res = rv["report"]["results"]
            hyb = res.get("hybrid", {})
            out.append(_row([tag, res.get("dense", {}).get("metrics", {}).get("ndcg@10"),
                             hyb.get("metrics", {}).get("ndcg@10"),
                             hyb.get("config", {}).get("weights"),
                             f"{rv['loadavg_start']} -> {rv['loadavg_end']}"]))
        out.append("")
    out += ["## Reading these figures", "",
            "- **Why the first runs were weak.** (1) Too little training: runs `lora` and "
            "`lora2` saw 260 and 208 tweets, `lora3` 144: two torch threads on the "
            "oversubscribed machine (load 7-13) waited on each other and ran at 6.7 tokens/s. "
            "(2) The label prior: TweetEval `val` is 16 % negative, 43 % neutral, 41 % "
            "positive, the test split 32 / 48 / 19; a model trained briefly on `val` answers "
            "`neutral` (lora3: 272 of 300), which macro-F1 punishes. (3) Not the prompt: the "
            "training prompt is token for token the pipeline's (checked: the batched scorer "
            "and the pipeline agree within 4e-6 in probability), and the loss covers the "
            "completion only (the label and `<|im_end|>`). (4) Not the scoring rule: "
            "`Neutral` is two tokens, so the pipeline's `auto` rule averages per token, but "
            "scoring the single-token forms only changes macro-F1 by at most 0.03.",
            "- **What changed.** Class-balanced data (306 tweets per class), LoRA on every "
            "linear layer (r=16, alpha=32), lr 1e-3, batches of 8, one torch thread, and the "
            "47 prompt tokens every example shares computed once per batch "
            "(`ponder.finetune.prefix`; loss and gradients equal the plain forward pass). "
            "bf16 autocast was not faster than fp32 on this CPU for this model (about 200 "
            "tokens/s either way at load 1-2), so the runs use fp32.",
            "- **Run `lora4`** trained 15 minutes (104 steps, 832 of the 918 balanced tweets, "
            "79 tokens/s at load 9 -> 5): macro-F1 0.577 on the seed-0 300 test tweets "
            "(base 0.347 with the same scorer; 0.342 published) and 0.588 on a seed-0 subset "
            "of 2,000; **0.581 on all 12,284 test tweets** (row `lora4_hf_all`). "
            "Below the 0.60 goal; no 30-minute run was made with these settings (the machine "
            "was shared all session).",
            "- **Other abilities** (`ppl_base_now` vs `ppl_lora4`, same 200 WMT22 lines and "
            "20 FRANK articles; `ppl_base` and `ppl_lora` used 100 lines and fewer articles): "
            "WMT22 English references 112.70 -> 112.65, FRANK articles 25.52 -> 26.88 (+5 %).",
            "- **Calibration.** The pipeline's `calibrate=True` (content-free prior) helps the "
            "briefly trained `lora3` (0.347 -> 0.423) and hurts `lora4` (0.577 -> 0.443): it "
            "is not a fix for a trained adapter.",
            "- **GGUF agreement** (run `lora`): 5 of 8 greedy continuations identical; the rest "
            "part at a near-tie token under Q8_0 (the integration test checks label "
            "log-probabilities of the merged model and the GGUF agree within 0.5 nats).",
            "- **Embedder (SciFact)**: the stages for a held-out choice of fusion weights "
            "(`embedder-split`, `fit-fusion`) are in place; the tuned model with BM25 hard "
            "negatives did not finish training on the loaded machine, so the hybrid figure is "
            "still the one above (0.740, `embedder_scifact.json`).",
            ""]
    return "\n".join(out) + "\n"
