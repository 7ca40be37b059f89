"""The transformers backend on a tiny randomly initialised Llama built here (never downloaded):
the ``GeneratorContract``, then agreement with plain forward passes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ponder.llm import load_generator
from ponder.llm.transformers_backend import TransformersGenerator
from ponder.testing.contracts import GeneratorContract

pytestmark = pytest.mark.integration

WORDS = ["the", "cat", "dog", "sat", "ran", "on", "mat", "a", "big", "small", "red", "blue"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    folder = tmp_path_factory.mktemp("tiny-llama")
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{w: i + 3 for i, w in enumerate(WORDS)}}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.chat_template = (
        "{% for m in messages %}{{ m['role'] }} {{ m['content'] }} {% endfor %}"
        "{% if add_generation_prompt %}the {% endif %}"
    )
    fast.save_pretrained(folder)
    cfg = transformers.LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        bos_token_id=1, eos_token_id=2, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def gen(model_dir: Path) -> TransformersGenerator:
    g = load_generator(str(model_dir), n_threads=1)
    assert isinstance(g, TransformersGenerator)
    return g


class TestContract(GeneratorContract):
    prompt = "the cat"
    raw = True
    continuations = (" ran on", " sat")

    @pytest.fixture
    def generator(self, gen: TransformersGenerator) -> TransformersGenerator:
        return gen


def _full_logprob(g: TransformersGenerator, prompt_ids: list[int], cont: list[int]) -> float:
    torch = g._torch
    with torch.inference_mode():
        logits = g._model(input_ids=torch.tensor([prompt_ids + cont])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return float(sum(lp[len(prompt_ids) - 1 + i, t] for i, t in enumerate(cont)))


def test_greedy_matches_a_plain_forward_pass(gen: TransformersGenerator) -> None:
    c = gen.complete("the cat", raw=True, max_new_tokens=5)
    assert c.completion_tokens >= 1
    ids = gen.prompt_token_ids("the cat")
    torch = gen._torch
    seq = list(ids)
    for tok in c.tokens:
        with torch.inference_mode():
            nxt = int(gen._model(input_ids=torch.tensor([seq])).logits[0, -1].argmax())
        assert nxt == tok.id
        seq.append(nxt)


def test_seeds_give_different_samples(gen: TransformersGenerator) -> None:
    opts = {"strategy": "sample", "temperature": 1.5, "max_new_tokens": 8, "raw": True}
    outs = {gen.complete("the", seed=s, **opts).text for s in range(6)}
    assert len(outs) > 1


def test_beam_total_logprob_at_least_greedy(gen: TransformersGenerator) -> None:
    # (a random model: this prompt makes both run to the length limit)
    greedy = gen.complete("red", raw=True, max_new_tokens=4)
    beam = gen.complete("red", raw=True, strategy="beam", num_beams=4, max_new_tokens=4,
                        length_penalty=0.0)
    assert beam.logprob is not None and greedy.logprob is not None
    assert beam.finish_reason == greedy.finish_reason == "length"
    assert beam.logprob >= greedy.logprob
    ids = gen.prompt_token_ids("red")
    assert beam.logprob == pytest.approx(
        _full_logprob(gen, ids, [t.id for t in beam.tokens]), abs=1e-3
    )


def test_logprobs_match_a_full_forward_pass(gen: TransformersGenerator) -> None:
    prompt = "the small dog"
    got = gen.logprobs(prompt, [" ran on", " sat"], raw=True)
    ids = gen.prompt_token_ids(prompt)
    for cont, value in zip([" ran on", " sat"], got, strict=True):
        expected = _full_logprob(gen, ids, gen._encode_text(cont))
        assert value == pytest.approx(expected, abs=1e-3)


def test_chat_template_and_prefix_reuse(gen: TransformersGenerator) -> None:
    text = gen.render_messages(gen.prepare_prompt("red cat"))
    assert text == "user red cat the "
    gen.complete("the big red cat sat on the", raw=True, max_new_tokens=2)
    c = gen.complete("the big red cat sat on the mat", raw=True, max_new_tokens=2)
    assert c.cached_prompt_tokens >= 7
    assert gen.context_window == 64
    assert np.isfinite(c.logprob or 0.0)
