"""Beam search speed: output tokens/s of beam search (4 beams) against greedy, in one run.

    .venv/bin/python bench/generate_beam.py                  # 2 threads, 64 tokens, 3 rounds
    .venv/bin/python bench/generate_beam.py --threads 1 --new-tokens 32

Each step's beams go to ``llama_decode`` as one batch. Where llama.cpp runs in split mode
(AMX kernels that fault on batches: prompts on plain weights, decoding on the AMX weights one
token at a time, see ``ponder.llm.llamacpp``), the batch can run on either engine; this
compares both, greedy and the two beam paths taking turns in every round, so that the load
of a shared machine hits them alike. Writes ``bench/results/generate_beam.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save
from ponder.llm import llamacpp
from ponder.llm.llamacpp import LlamaCppGenerator, default_model_path

STORY = (
    "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle. "
    "Describe the weather, the sea, the keeper's daily routine and what the message says."
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new-tokens", type=int, default=64)
    args = ap.parse_args()
    gen = LlamaCppGenerator(default_model_path(), n_threads=args.threads)
    gen.complete("hi", max_new_tokens=1)  # load
    decode_engine = LlamaCppGenerator._beam_session

    @contextmanager
    def prompt_engine(
        self: LlamaCppGenerator, n_prompt: int, num_beams: int, first: np.ndarray
    ) -> Iterator[llamacpp._LlamaBeams]:
        beams = llamacpp._LlamaBeams(self._pp, n_prompt, num_beams, first)
        try:
            yield beams
        finally:
            beams.clear()

    def tps(**kw: object) -> float:
        gen.clear_cache()
        gen.complete(STORY, raw=True, max_new_tokens=1)  # the prompt, cached: not timed
        t0 = time.perf_counter()
        c = gen.complete(STORY, raw=True, max_new_tokens=args.new_tokens, **kw)
        return (c.completion_tokens - 1) / (time.perf_counter() - t0)

    runs: dict[str, list[float]] = {
        "greedy": [], "beam_decode_engine": [], "beam_prompt_engine": []
    }  # fmt: skip
    load_start = os.getloadavg()
    for _ in range(args.rounds):
        runs["greedy"].append(tps())
        LlamaCppGenerator._beam_session = decode_engine  # type: ignore[method-assign]
        runs["beam_decode_engine"].append(tps(strategy="beam", num_beams=4))
        if gen.mode == "split":
            LlamaCppGenerator._beam_session = prompt_engine  # type: ignore[method-assign]
            runs["beam_prompt_engine"].append(tps(strategy="beam", num_beams=4))
    LlamaCppGenerator._beam_session = decode_engine  # type: ignore[method-assign]
    m = {k: statistics.median(v) for k, v in runs.items() if v}
    out = {
        "command": "bench/generate_beam.py " + " ".join(sys.argv[1:]),
        "mode": gen.mode, "threads": args.threads, "new_tokens": args.new_tokens,
        "rounds": args.rounds, "tokens_per_s": m, "runs": runs,
        "beam4_vs_greedy": {k: round(v / m["greedy"], 3) for k, v in m.items() if k != "greedy"},
        "load_average_start": load_start, "load_average_end": os.getloadavg(),
    }  # fmt: skip
    print(out["beam4_vs_greedy"], {k: round(v, 1) for k, v in m.items()})
    save("generate_beam", out)


if __name__ == "__main__":
    main()
