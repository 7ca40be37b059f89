"""Shared-prefix training steps: the prefix found is the right one, and the loss and gradients
equal the plain forward pass on a tiny random Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from ponder.finetune.data import (  # noqa: E402
    IGNORE,
    ChatRenderer,
    TokenizedExample,
    collate,
    tokenize_file,
)
from ponder.finetune.llm import FinetuneConfig, Trainer  # noqa: E402
from ponder.finetune.prefix import MIN_PREFIX, prefix_loss, shared_prefix_length  # noqa: E402
from ponder.finetune.tiny import make_tiny_llama  # noqa: E402

INSTRUCTION = ("What is the sentiment of this text? Answer with one word: negative, neutral, "
               "positive.")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def _data(path: Path, n: int = 9) -> Path:
    texts = ["I loved the film", "The food was cold and the service slow", "hello world",
             "the music", "it is the film and the food", "slow", "world of music", "a", "the"]
    rows = [{"prompt": f"{INSTRUCTION}\n\nText: {texts[i % len(texts)]}",
             "completion": ("positive", "negative", "neutral")[i % 3]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_prefix_length_stops_before_targets_and_keeps_a_tail() -> None:
    a = TokenizedExample((5, 6, 7, 8), (IGNORE, IGNORE, IGNORE, 8))
    assert shared_prefix_length([a, a]) == 2  # identical rows: the target 8 needs position 2
    b = TokenizedExample((5, 6, 9, 9, 4), (IGNORE, IGNORE, IGNORE, IGNORE, 4))
    assert shared_prefix_length([a, b]) == 2
    assert shared_prefix_length([a, TokenizedExample((1, 6), (IGNORE, 6))]) == 0
    assert shared_prefix_length([]) == 0
    no_target = TokenizedExample((5, 6, 7), (IGNORE,) * 3)
    assert shared_prefix_length([no_target]) == 2  # a tail of one token stays


def test_prefix_loss_and_gradients_equal_plain_forward(tiny: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny))
    examples, _ = tokenize_file(_data(tmp_path / "d.jsonl"), ChatRenderer(tok), 256)
    prefix = shared_prefix_length(examples)
    assert prefix >= MIN_PREFIX
    assert len({len(e) for e in examples}) > 1  # rows of different lengths, right-padded
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny), dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0,
                                             target_modules=["q_proj", "v_proj", "down_proj"]))
    for n, p in model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.5)  # non-zero: the adapter changes the prefix too
    batch = collate(examples, int(tok.pad_token_id))
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]

    def loss_and_grads(fn: object) -> tuple[float, dict[str, object]]:
        model.zero_grad()
        loss = fn()  # type: ignore[operator]
        loss.backward()
        return float(loss.detach()), {n: p.grad.clone() for n, p in trainable}

    plain, g_plain = loss_and_grads(lambda: model(**batch).loss)
    shared, g_shared = loss_and_grads(lambda: prefix_loss(model, batch, prefix))
    assert shared == pytest.approx(plain, rel=1e-5)
    for n, g in g_plain.items():
        assert torch.allclose(g_shared[n], g, atol=1e-5, rtol=1e-4), n
    assert any(float(g.abs().max()) > 0 for n, g in g_plain.items() if "lora_A" in n)


def test_trainer_runs_the_shared_prefix_once(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl")
    notices: list[str] = []
    cfg = FinetuneConfig(batch_size=3, max_length=128, lora_r=4, threads=1, export_gguf=False,
                         bf16="off", lr=5e-3, epochs=2, save_every=100)
    tr = Trainer(data, tmp_path / "run", base=str(tiny), config=cfg, eval_data=data,
                 on_notice=notices.append)
    tr.setup()
    assert tr.train_prefix >= MIN_PREFIX and tr.eval_prefix == tr.train_prefix
    assert any("run once per batch" in m for m in notices)
    before = tr.evaluate(0)
    tr.train()
    after = tr.evaluate(1)
    assert before is not None and after is not None and after.loss < before.loss
