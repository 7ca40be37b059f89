"""Generation speed: Ponder vs raw llama-cpp-python on the same GGUF, threads and prompt.

Measures, in one run (alternating Ponder and raw so that machine noise hits both alike):

1. prompt processing (tokens/s) on a ~``--prompt-tokens`` prompt, cold cache;
2. greedy generation (tokens/s after the first token) for ``--new-tokens`` tokens;
3. beam search with 4 beams vs greedy, through Ponder (raw llama.cpp has no beam search);
4. time to first token of a 1,000-token prompt whose first 900 tokens were seen before
   (just before, and with another prompt in between) vs the same prompt cold.

Raw llama-cpp-python runs with the same n_ctx, n_batch, threads and flash attention (off), in
the configurations that work on this machine. Where the CPU advertises AMX but its tile
instructions fault (some virtual machines), ``Llama()``'s default crashes on any prompt longer
than one token; two raw configurations then run: extra buffers off (plain kernels) and the
default buffers with ``n_ubatch=1`` (AMX's one-token kernels only). Ponder is compared with
the faster of them for each measure.

    .venv/bin/python bench/generate.py   # prints a table, writes bench/results/generate.json
    .venv/bin/python bench/generate.py --threads 1 --clock cpu   # busy machine: generate.cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ponder.llm.cpu_probe import extra_buffers_safe
from ponder.llm.llamacpp import LlamaCppGenerator, default_model_path

RESULTS = Path(__file__).resolve().parent / "results"
STORY = (
    "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle. "
    "Describe the weather, the sea, the keeper's daily routine and what the message says."
)
FILLER = (
    "The history of lighthouses begins with fires lit on hilltops to guide ships at night. "
    "Later, towers were built, lamps burned oil, and lenses focused the light far out to sea. "
)


def _raw_llama(path: Path, n_ctx: int, threads: int, extra: bool, n_ubatch: int = 512) -> Any:
    import llama_cpp
    import llama_cpp.llama as llama_mod

    original = llama_cpp.llama_model_default_params

    def params() -> Any:
        p = original()
        p.use_extra_bufts = extra
        return p

    llama_mod.llama_cpp.llama_model_default_params = params  # same weights buffers as Ponder
    try:
        return llama_cpp.Llama(
            str(path), n_ctx=n_ctx, n_batch=512, n_ubatch=n_ubatch, n_threads=threads,
            n_threads_batch=threads, flash_attn=False, verbose=False,
        )
    finally:
        llama_mod.llama_cpp.llama_model_default_params = original


# Every time is taken here, with one clock: wall time, or with --clock cpu this process's CPU
# time (with one thread, a proxy for the work done that other load on the machine disturbs less).
now = time.perf_counter


def _raw_pp(llm: Any, tokens: list[int]) -> float:
    llm.reset()
    t0 = now()
    llm.eval(tokens)
    return len(tokens) / (now() - t0)


def _raw_tg(llm: Any, tokens: list[int], n: int) -> float:
    llm.reset()
    stamps = []
    for _ in llm.generate(tokens, temp=0.0, top_k=1, repeat_penalty=1.0):
        stamps.append(now())
        if len(stamps) >= n:
            break
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _ttft(gen: LlamaCppGenerator, text: str, **opts: Any) -> tuple[float, int]:
    """Time to the first token (prompt evaluation and the first choice) and prompt size."""
    stream = gen.generate(text, raw=True, max_new_tokens=1, **opts)
    t0 = now()
    next(stream, None)
    dt = now() - t0
    stream.close()
    return dt, stream.info.prompt_tokens


def _ponder_pp(gen: LlamaCppGenerator, text: str) -> float:
    gen.clear_cache()
    dt, n = _ttft(gen, text)
    return n / dt


def _ponder_tg(gen: LlamaCppGenerator, text: str, n: int) -> float:
    gen.clear_cache()
    stamps = [now() for _ in gen.generate(text, raw=True, max_new_tokens=n)]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--prompt-tokens", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: this process's CPU time (use with --threads 1 on a busy machine)")
    args = ap.parse_args()
    global now
    if args.clock == "cpu":
        now = time.process_time

    path = default_model_path()
    gen = LlamaCppGenerator(path, n_threads=args.threads, n_ctx=args.n_ctx)
    gen.complete("hi", max_new_tokens=1)  # load
    if extra_buffers_safe(path):
        raws = {"default": _raw_llama(path, args.n_ctx, args.threads, True)}
    else:
        raws = {
            "plain": _raw_llama(path, args.n_ctx, args.threads, False),
            "default_ubatch1": _raw_llama(path, args.n_ctx, args.threads, True, n_ubatch=1),
        }
    raw = next(iter(raws.values()))

    # a raw text prompt of about --prompt-tokens tokens, identical token ids for both
    text = FILLER * 40
    ids = gen._encode(text)[: args.prompt_tokens]
    text = gen.detokenize(ids)
    ids = gen._encode(text)
    story_ids = gen._encode(STORY)
    assert raw.tokenize(text.encode(), add_bos=False, special=True) == ids

    load0 = os.getloadavg()
    res: dict[str, list[float]] = {"pp_ponder": [], "tg_ponder": []}
    for name in raws:
        res[f"pp_raw_{name}"] = []
        res[f"tg_raw_{name}"] = []
    runners = ["ponder", *raws]
    for r in range(args.rounds):
        order = runners if r % 2 == 0 else runners[::-1]
        for who in order:
            if who == "ponder":
                res["pp_ponder"].append(_ponder_pp(gen, text))
                res["tg_ponder"].append(_ponder_tg(gen, STORY, args.new_tokens))
            else:
                res[f"pp_raw_{who}"].append(_raw_pp(raws[who], ids))
                res[f"tg_raw_{who}"].append(_raw_tg(raws[who], story_ids, args.new_tokens))
    del raw, raws

    # beam search (4 beams) vs greedy, through Ponder: per-step rate and output tokens/s
    beam: dict[str, list[float]] = {"greedy_tps": [], "beam_steps_ps": [], "beam_tps": []}
    for _ in range(args.rounds):
        beam["greedy_tps"].append(_ponder_tg(gen, STORY, args.new_tokens))
        gen.clear_cache()
        prompt_s = _ttft(gen, STORY)[0]  # the prompt alone, cold, to subtract below
        gen.clear_cache()
        stream = gen.generate(STORY, raw=True, strategy="beam", num_beams=4,
                              max_new_tokens=args.new_tokens, explain=True)
        t0 = now()
        b = stream.completion()
        search_s = now() - t0 - prompt_s
        steps = 1 + max(n.step for n in (b.trace.beam_nodes if b.trace else []))
        beam["beam_steps_ps"].append(steps / search_s)
        beam["beam_tps"].append(b.completion_tokens / search_s)

    # time to first token: 1,000-token prompt, first 900 seen before
    base = gen._encode(FILLER * 80)
    prefix = gen.detokenize(base[:900])
    tails = [gen.detokenize(gen._encode(f" Question {i}: " + FILLER * 3)[:100]) for i in range(4)]
    other = "An unrelated prompt about gardening and tomatoes. " * 30
    ttft: dict[str, list[float]] = {"cold": [], "warm_last": [], "warm_lru": []}
    for _ in range(args.rounds):
        gen.clear_cache()
        ttft["cold"].append(_ttft(gen, prefix + tails[0])[0])
        gen.clear_cache()
        _ttft(gen, prefix + tails[1])
        ttft["warm_last"].append(_ttft(gen, prefix + tails[2])[0])
        _ttft(gen, other)
        ttft["warm_lru"].append(_ttft(gen, prefix + tails[3])[0])
    n_prompt = len(gen._encode(prefix + tails[3]))
    load1 = os.getloadavg()

    m = {k: _median(v) for k, v in {**res, **beam, **ttft}.items()}
    m["pp_raw"] = max(v for k, v in m.items() if k.startswith("pp_raw_"))
    m["tg_raw"] = max(v for k, v in m.items() if k.startswith("tg_raw_"))
    out = {
        "model": path.name,
        "threads": args.threads,
        "clock": args.clock,
        "rounds": args.rounds,
        "prompt_tokens": len(ids),
        "new_tokens": args.new_tokens,
        "ponder_mode": gen.mode,
        "raw_configs": {k: m[k] for k in m if k.startswith(("pp_raw_", "tg_raw_"))},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_start": load0, "loadavg_end": load1},
        "prompt_processing_tps": {"ponder": m["pp_ponder"], "raw": m["pp_raw"],
                                  "ratio": m["pp_ponder"] / m["pp_raw"]},
        "generation_tps": {"ponder": m["tg_ponder"], "raw": m["tg_raw"],
                           "ratio": m["tg_ponder"] / m["tg_raw"]},
        "beam4_vs_greedy": {"greedy_tps": m["greedy_tps"], "beam_steps_per_s": m["beam_steps_ps"],
                            "beam_output_tps": m["beam_tps"],
                            "ratio_steps": m["beam_steps_ps"] / m["greedy_tps"],
                            "ratio_output": m["beam_tps"] / m["greedy_tps"]},
        "ttft_1000_tokens_900_seen": {"prompt_tokens": n_prompt, "cold_s": m["cold"],
                                      "warm_last_s": m["warm_last"], "warm_lru_s": m["warm_lru"],
                                      "ratio_last": m["warm_last"] / m["cold"],
                                      "ratio_lru": m["warm_lru"] / m["cold"]},
        "raw": {k: v for k, v in {**res, **beam, **ttft}.items()},
    }
    out["goals"] = {
        "ponder_vs_raw_pp>=0.95": out["prompt_processing_tps"]["ratio"] >= 0.95,
        "ponder_vs_raw_generation>=0.95": out["generation_tps"]["ratio"] >= 0.95,
        "beam4_vs_greedy>=0.5": out["beam4_vs_greedy"]["ratio_output"] >= 0.5,
        "ttft_warm<=0.25x_cold": max(out["ttft_1000_tokens_900_seen"]["ratio_last"],
                                     out["ttft_1000_tokens_900_seen"]["ratio_lru"]) <= 0.25,
    }
    RESULTS.mkdir(exist_ok=True)
    name = "generate.json" if args.clock == "wall" else "generate.cpu.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2), encoding="utf-8")

    t = Table(title=f"Generation on {path.name}, {args.threads} threads, {args.clock} clock, "
              f"median of {args.rounds} (load {load0[0]:.1f} -> {load1[0]:.1f})")
    for col in ("measure", "Ponder", "raw llama-cpp-python", "ratio", "goal"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    pp, tg = out["prompt_processing_tps"], out["generation_tps"]
    bm, tt = out["beam4_vs_greedy"], out["ttft_1000_tokens_900_seen"]
    t.add_row(f"prompt processing, {len(ids)} tokens (tok/s)", f"{pp['ponder']:.1f}",
              f"{pp['raw']:.1f}", f"{pp['ratio']:.2f}", ">= 0.95")
    t.add_row("greedy generation (tok/s)", f"{tg['ponder']:.1f}", f"{tg['raw']:.1f}",
              f"{tg['ratio']:.2f}", ">= 0.95")
    t.add_row("beam 4 output tok/s vs greedy", f"{bm['beam_output_tps']:.1f}",
              f"greedy {bm['greedy_tps']:.1f}", f"{bm['ratio_output']:.2f}", ">= 0.5")
    t.add_row("beam 4 steps/s vs greedy tok/s", f"{bm['beam_steps_per_s']:.1f}",
              f"greedy {bm['greedy_tps']:.1f}", f"{bm['ratio_steps']:.2f}", "")
    t.add_row(f"TTFT {tt['prompt_tokens']} tokens, 900 seen just before (s)",
              f"{tt['warm_last_s']:.3f}", f"cold {tt['cold_s']:.3f}", f"{tt['ratio_last']:.2f}",
              "<= 0.25")
    t.add_row("TTFT, 900 seen two prompts ago (s)", f"{tt['warm_lru_s']:.3f}",
              f"cold {tt['cold_s']:.3f}", f"{tt['ratio_lru']:.2f}", "<= 0.25")
    Console().print(t)
    print("Ponder mode:", gen.mode, "| raw configurations:", json.dumps(out["raw_configs"]))
    print(json.dumps(out["goals"]))


if __name__ == "__main__":
    main()
