"""Beam search on the default model: every step's beams go to llama.cpp in one batch, on the
engine that decodes greedy tokens. Checked against the reference that decodes one hypothesis
per call (same beams, same scores) and against greedy decoding (one beam is greedy)."""

from __future__ import annotations

import functools

import pytest

from ponder.llm import llamacpp, load_generator
from ponder.llm.llamacpp import LlamaCppGenerator

pytestmark = pytest.mark.integration

PROMPTS = ("What is the capital of France?", "Name three colors.", "Write a haiku about rain.")


@pytest.fixture(scope="module")
def gen() -> LlamaCppGenerator:
    g = load_generator("smollm2")  # shared with other test modules (same cache key)
    assert isinstance(g, LlamaCppGenerator)
    return g


def test_one_beam_gives_greedy_tokens(gen: LlamaCppGenerator) -> None:
    for prompt in PROMPTS:
        greedy = gen.complete(prompt, max_new_tokens=10)
        beam = gen.complete(prompt, strategy="beam", num_beams=1, max_new_tokens=10)
        assert beam.text == greedy.text, prompt


def test_batched_beams_match_beams_decoded_one_at_a_time(
    gen: LlamaCppGenerator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run() -> list[tuple[str, float]]:
        out = []
        for prompt in PROMPTS:
            gen.clear_cache()
            c = gen.complete(prompt, strategy="beam", num_beams=4, max_new_tokens=10)
            assert c.logprob is not None
            out.append((c.text, c.logprob))
        return out

    batched = run()
    one_by_one = functools.partial(llamacpp._LlamaBeams, batched=False)
    monkeypatch.setattr(llamacpp, "_LlamaBeams", one_by_one)
    reference = run()
    assert [t for t, _ in batched] == [t for t, _ in reference]
    if gen.mode == "split":  # one-token ubatches either way: the same arithmetic
        assert [s for _, s in batched] == [s for _, s in reference]
    else:  # batch kernels round apart from one-token kernels
        assert [s for _, s in batched] == pytest.approx([s for _, s in reference], abs=1e-3)
