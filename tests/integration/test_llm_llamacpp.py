"""The default model (SmolLM2-135M-Instruct Q4_1 through llama.cpp): the ``GeneratorContract``,
then what is particular to it: log-probabilities on tokens, beam search against greedy, the
chat template, scoring, context limits and the prefix cache. Kept short: few new tokens."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ponder.errors import ContextLengthError
from ponder.llm import load_generator
from ponder.llm.llamacpp import LlamaCppGenerator, default_model_path
from ponder.testing.contracts import GeneratorContract

pytestmark = pytest.mark.integration

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def gen() -> LlamaCppGenerator:
    g = load_generator("smollm2")  # shared with other test modules (same cache key)
    assert isinstance(g, LlamaCppGenerator)
    return g


class TestContract(GeneratorContract):
    prompt = QUESTION

    @pytest.fixture
    def generator(self, gen: LlamaCppGenerator) -> LlamaCppGenerator:
        return gen


def test_streamed_tokens_carry_ids_and_logprobs(gen: LlamaCppGenerator) -> None:
    stream = gen.generate(QUESTION, max_new_tokens=8)
    first = next(stream)
    assert first.id is not None and first.logprob is not None and first.logprob <= 0
    c = stream.completion()
    assert c.prompt_tokens > 10 and c.tokens_per_second > 0


def test_chat_template_comes_from_the_model(gen: LlamaCppGenerator) -> None:
    text = gen.render_messages(gen.prepare_prompt("Hi", system="Be brief."))
    assert "<|im_start|>system\nBe brief.<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_another_seed_another_sample(gen: LlamaCppGenerator) -> None:
    opts = {"strategy": "sample", "temperature": 1.0, "top_p": 0.95, "max_new_tokens": 12}
    s1 = gen.complete("Write a short poem about rain.", seed=42, **opts)
    s3 = gen.complete("Write a short poem about rain.", seed=43, **opts)
    assert s1.text != s3.text


def test_beam_finds_a_sequence_at_least_as_likely_as_greedy(gen: LlamaCppGenerator) -> None:
    for prompt in (QUESTION, "What color is the sky?"):
        greedy = gen.complete(prompt, max_new_tokens=12)
        beam = gen.complete(prompt, strategy="beam", num_beams=4, length_penalty=0.0,
                            max_new_tokens=12)
        assert beam.logprob is not None and greedy.logprob is not None
        assert beam.logprob >= greedy.logprob
    assert "Paris" in gen.complete(QUESTION, strategy="beam", max_new_tokens=16).text


def test_beam_search_leaves_the_cache_clean(gen: LlamaCppGenerator) -> None:
    before = gen.complete("Name a color.", max_new_tokens=6).text
    gen.complete("Name an animal.", strategy="beam", num_beams=4, max_new_tokens=6)
    gen.complete("Name an animal.", strategy="sample", num_beams=3, seed=1, max_new_tokens=6)
    assert gen.complete("Name a color.", max_new_tokens=6).text == before


def test_logprobs_rank_the_obvious_continuation_higher(gen: LlamaCppGenerator) -> None:
    paris, berlin = gen.logprobs("The capital of France is", [" Paris", " Berlin"], raw=True)
    assert paris > berlin
    greedy = gen.complete(QUESTION, max_new_tokens=8)
    scored = gen.logprobs(QUESTION, [greedy.text])[0]
    # the same tokens, evaluated in one batch instead of one at a time (other kernels, which
    # round differently): close, not bit-equal
    assert scored == pytest.approx(greedy.logprob, abs=0.1 * greedy.completion_tokens + 0.3)


def test_prompt_longer_than_the_window() -> None:
    small = LlamaCppGenerator(default_model_path(), n_threads=2, n_ctx=256)
    long_text = "The quick brown fox jumps over the lazy dog. " * 40
    n = len(small.prompt_token_ids(small.prepare_prompt(long_text)))
    with pytest.raises(ContextLengthError) as e:
        small.generate(long_text, max_new_tokens=4)
    msg = str(e.value)
    assert f"{n} tokens" in msg and "256" in msg  # both numbers
    c = small.complete(long_text + " Summarize.", max_new_tokens=4, truncate="left")
    assert 200 < c.prompt_tokens <= 256 - 4
    assert c.finish_reason in ("stop", "length")
    raw = small.complete(long_text, raw=True, max_new_tokens=4, truncate="right")
    assert raw.prompt_tokens == 252
    small.close()


def test_repeated_prefix_is_not_recomputed() -> None:
    g = LlamaCppGenerator(default_model_path(), n_threads=2, n_ctx=2048)
    shared = "You are a careful assistant. " + "Here is some background text. " * 40
    a = g.complete(shared + "Question one?", raw=True, max_new_tokens=2)
    assert a.cached_prompt_tokens == 0
    b = g.complete(shared + "Question two?", raw=True, max_new_tokens=2)
    n_shared = len(g._encode_text(shared))
    assert b.cached_prompt_tokens >= n_shared - 2
    # an unrelated prompt in between: the saved state of the shared prefix is restored
    g.complete("Something else entirely. " * 20, raw=True, max_new_tokens=2)
    c = g.complete(shared + "Question three?", raw=True, max_new_tokens=4)
    assert c.cached_prompt_tokens >= n_shared - 2
    fresh = LlamaCppGenerator(default_model_path(), n_threads=2, n_ctx=2048, prefix_cache=0)
    cold = fresh.complete(shared + "Question three?", raw=True, max_new_tokens=4)
    assert cold.cached_prompt_tokens == 0
    assert c.tokens[0].id == cold.tokens[0].id
    g.close()
    fresh.close()


def test_explain_on_the_real_model(gen: LlamaCppGenerator) -> None:
    c = gen.complete(QUESTION, max_new_tokens=4, explain=True)
    assert c.trace is not None and len(c.trace.steps) == c.completion_tokens
    for step, tok in zip(c.trace.steps, c.tokens, strict=False):
        assert step.chosen.token_id == tok.id == step.candidates[0].token_id
    b = gen.complete(QUESTION, strategy="beam", num_beams=3, max_new_tokens=4, explain=True)
    assert b.trace is not None and any(n.status == "dropped" for n in b.trace.beam_nodes)


def test_tokenizer_round_trips(gen: LlamaCppGenerator) -> None:
    toks = gen.tokenize("Hello world")
    assert "".join(t for _, t in toks) == "Hello world" and len(toks) == 2


def test_cli_generate_and_tokens_on_the_default_model() -> None:
    runner = CliRunner()
    r = runner.invoke(app_(), ["generate", QUESTION, "-n", "6", "--json", "--seed", "1"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["completion_tokens"] <= 6 and out["finish_reason"] in ("stop", "length")
    assert out["tokens_per_second"] > 0
    r = runner.invoke(app_(), ["tokens", "Hello world", "--embedder", "hash", "--json"])
    sections = json.loads(r.stdout)["sections"]
    gen_section = next(s for s in sections if s["name"].startswith("generator"))
    assert gen_section["ids"] == [19556, 905] and gen_section["context_window"] == 4096


def app_():
    from ponder.cli.main import app

    return app
