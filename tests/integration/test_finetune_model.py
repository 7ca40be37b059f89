"""LoRA on the real SmolLM2-135M-Instruct (the shipped GGUF, dequantized): a few steps on a
handful of examples, resume in a fresh trainer, GGUF export loaded by llama.cpp and agreeing
with the merged Hugging Face model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gguf")

from ponder.finetune.llm import FinetuneConfig, Trainer
from ponder.finetune.loading import load_model, resolve_base

pytestmark = pytest.mark.integration

PROMPT = "What is the sentiment of this text? Answer with one word: negative, neutral, positive."


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trainer, Path]:
    tmp = tmp_path_factory.mktemp("ft")
    data = tmp / "train.jsonl"
    rows = [("I loved it, best day ever", "positive"), ("This is awful and I hate it", "negative"),
            ("The meeting is at 3pm", "neutral"), ("What a fantastic game!", "positive")]
    data.write_text("".join(json.dumps({"prompt": f"{PROMPT}\n\nText: {t}", "completion": c})
                            + "\n" for t, c in rows))
    base = resolve_base("default")
    cfg = FinetuneConfig(epochs=2, batch_size=2, max_length=96, save_every=1, max_steps=2,
                         lr=1e-4, threads=2)
    tr = Trainer(data, tmp / "out", base=base, model_and_tokenizer=load_model(base, threads=2),
                 config=cfg)
    tr.run()
    return tr, data


def test_lora_steps_checkpoint_and_outputs(run: tuple[Trainer, Path]) -> None:
    tr, _ = run
    out = tr.out
    assert tr.state.step == 2 and tr.n_trainable < tr.total_params / 50
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "config.json").is_file() and (out / "model.gguf").is_file()
    assert (out / "checkpoints" / "step-000002" / "optimizer.pt").is_file()
    rep = json.loads((out / "report.json").read_text())
    assert rep["gguf"]["quantization"] == "q8_0" and rep["tokens_per_s"] > 0


def test_resume_in_fresh_trainer_continues_step_and_optimizer(run: tuple[Trainer, Path]) -> None:
    import torch

    tr, data = run
    before = {k: v["exp_avg"].clone() for k, v in enumerate(tr.optimizer.state.values())}
    fresh = Trainer(data, tr.out, base=tr.base, resume=True,
                    config=tr.config.replace(max_steps=3, export_gguf=False))
    fresh.setup()
    assert fresh.state.step == 2 and fresh.state.epoch == 1
    states = list(fresh.optimizer.state.values())
    assert int(states[0]["step"]) == 2
    assert all(torch.equal(states[k]["exp_avg"], before[k]) for k in before)
    fresh.train()
    assert fresh.state.step == 3


def test_gguf_loads_in_llamacpp_and_agrees_with_merged(run: tuple[Trainer, Path]) -> None:
    from ponder.llm import load_generator

    tr, _ = run
    gg = load_generator(str(tr.out / "model.gguf"), n_threads=2, fresh=True)
    hf = load_generator(str(tr.out / "merged"), n_threads=2, fresh=True)
    prompt = f"{PROMPT}\n\nText: I loved it, best day ever"
    labels = ["positive", "negative", "neutral"]
    a, b = hf.logprobs(prompt, labels), gg.logprobs(prompt, labels)
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 0.5
    assert a.index(max(a)) == b.index(max(b))
    text = gg.complete("What is the capital of France?", max_new_tokens=8).text
    assert text.strip()
