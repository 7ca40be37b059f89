"""The shared logits decoding loop on the toy bigram model: strategies, context window,
truncation, scoring, traces, and the generator loader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ponder.errors import ConfigError, ContextLengthError, ModelNotFoundError
from ponder.llm import load_generator
from ponder.llm.explain import DecodingTrace
from ponder.llm.fake import ToyLanguageModel
from ponder.llm.openai_compat import OpenAICompatGenerator


def test_greedy_sample_beam_on_toy() -> None:
    g = ToyLanguageModel()
    assert g.complete("the").text == " cat sat"
    assert g.complete("the", strategy="beam", num_beams=2).text == " dog barked"
    s1 = g.complete("the", strategy="sample", temperature=1.0, seed=11).text
    assert s1 == g.complete("the", strategy="sample", temperature=1.0, seed=11).text
    outs = {g.complete("the", strategy="sample", temperature=1.0, seed=s).text for s in range(20)}
    assert len(outs) > 1


def test_top_k_one_sampling_is_greedy() -> None:
    g = ToyLanguageModel()
    for seed in range(5):
        assert g.complete("the", strategy="sample", top_k=1, seed=seed).text == " cat sat"


def test_token_logprobs_match_the_table() -> None:
    g = ToyLanguageModel()
    c = g.complete("the")
    assert [round(math.exp(t.logprob), 3) for t in c.tokens] == [0.55, 0.36]


def test_context_overflow_names_both_numbers() -> None:
    g = ToyLanguageModel(context_window=10)
    long_prompt = "the cat sat the cat sat the cat sat the cat sat"
    with pytest.raises(ContextLengthError) as e:
        g.generate(long_prompt, max_new_tokens=2)
    msg = str(e.value)
    assert "13 tokens" in msg and "10" in msg and "truncate" in msg
    with pytest.raises(ContextLengthError, match=r"\+ max_new_tokens 7 = 11"):
        g.generate("the cat sat", max_new_tokens=7)


def test_truncation_left_keeps_the_end_right_keeps_the_start() -> None:
    g = ToyLanguageModel(context_window=6)
    prompt = " a cat sat the dog"
    left = g.generate(prompt, max_new_tokens=3, truncate="left")
    assert left.info.prompt_tokens == 3
    text_left = "".join(t.text for t in left)
    assert text_left == " barked"  # the kept end is "... the dog"
    right = g.complete(prompt, max_new_tokens=3, truncate="right")
    assert right.prompt_tokens == 3 and right.text == " sat"  # kept "<s> a cat"
    with pytest.raises(ContextLengthError, match="leaves no room"):
        g.generate(prompt, max_new_tokens=6, truncate="left")


def test_logprobs_score_continuations() -> None:
    g = ToyLanguageModel()
    lp = g.logprobs("the", [" cat", " dog", " cat sat"])
    assert lp[0] == pytest.approx(math.log(0.55), abs=1e-5)
    assert lp[1] == pytest.approx(math.log(0.45), abs=1e-5)
    assert lp[2] == pytest.approx(math.log(0.55 * 0.36), abs=1e-5)


def test_prefix_cache_counts_reused_tokens() -> None:
    g = ToyLanguageModel()
    g.complete("the cat sat the")
    c = g.complete("the cat sat the dog")
    assert c.cached_prompt_tokens == 5  # <s> the cat sat the


def test_explain_trace_for_greedy_and_files(tmp_path: Path) -> None:
    g = ToyLanguageModel()
    stream = g.generate("the", explain=True)
    c = stream.completion()
    trace = c.trace
    assert isinstance(trace, DecodingTrace)
    assert [s.chosen.text for s in trace.steps] == [" cat", " sat", ""]
    assert trace.steps[0].candidates[0].text == " cat"
    assert trace.steps[0].candidates[1].prob == pytest.approx(0.45, abs=1e-4)
    html = trace.save(tmp_path / "t.html").read_text(encoding="utf-8")
    assert "␣cat" in html and "best" in html
    png = trace.save(tmp_path / "t.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match=r"\.html or \.png"):
        trace.save(tmp_path / "t.txt")
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(trace.rich_table())
    assert "␣cat" in console.export_text()
    assert trace.to_dict()["steps"][0]["chosen"]["text"] == " cat"


def test_explain_trace_for_sampling_shows_both_probabilities() -> None:
    g = ToyLanguageModel()
    c = g.complete("the", strategy="sample", temperature=0.5, seed=1, explain=True)
    assert c.trace is not None
    first = c.trace.steps[0].candidates[0]
    assert first.prob == pytest.approx(0.55, abs=1e-4)
    assert first.sample_prob is not None and first.sample_prob > first.prob


def test_load_generator_specs(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        load_generator(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotFoundError, match=r"config\.json"):
        load_generator(str(tmp_path))
    with pytest.raises(ConfigError, match="unknown model"):
        load_generator("gpt-17")
    g = load_generator("openai:http://127.0.0.1:9/v1#tiny")
    assert isinstance(g, OpenAICompatGenerator) and g.model == "tiny"
    assert load_generator("openai:http://127.0.0.1:9/v1#tiny") is g  # cached per process
    with pytest.raises(ConfigError, match="model name"):
        load_generator("openai:http://127.0.0.1:9/v1")


def test_settings_model_is_the_default_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_MODEL", "toy")
    assert isinstance(load_generator(), ToyLanguageModel)
