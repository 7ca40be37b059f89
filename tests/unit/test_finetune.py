"""Fine-tuning on a tiny random Llama (built offline in a second): data, training, resume,
early stopping, export, perplexity and the CLI. The real 135M model is in
tests/integration/test_finetune_model.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("gguf")

from typer.testing import CliRunner  # noqa: E402

from ponder.cli.main import app  # noqa: E402
from ponder.errors import ConfigError, InputError  # noqa: E402
from ponder.finetune.checkpoint import latest_checkpoint, list_checkpoints  # noqa: E402
from ponder.finetune.data import ChatExample, ChatRenderer, read_examples  # noqa: E402
from ponder.finetune.llm import FinetuneConfig, Trainer, prepare_out  # noqa: E402
from ponder.finetune.tiny import make_tiny_gguf_template, make_tiny_llama  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def _data(path: Path, n: int = 12, bad: bool = False) -> Path:
    lines = []
    for i in range(n):
        label = ("positive", "negative", "neutral")[i % 3]
        lines.append(json.dumps({"prompt": f"Text: the film {i} was {label}", "completion": label}))
    if bad:
        lines.insert(2, "{not json")
        lines.insert(5, json.dumps({"prompt": "no completion"}))
        lines.append(json.dumps({"prompt": "long " * 400, "completion": "neutral"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _cfg(**kw: object) -> FinetuneConfig:
    base = dict(batch_size=4, max_length=64, lora_r=4, save_every=1, threads=1,
                export_gguf=False, bf16="off")
    base.update(kw)
    return FinetuneConfig(**base)  # type: ignore[arg-type]


def test_renderer_matches_inference_prompt_and_masks_prompt(tiny: Path) -> None:
    from transformers import AutoTokenizer

    from ponder.llm.chat import render_chat_template

    tok = AutoTokenizer.from_pretrained(str(tiny))
    r = ChatRenderer(tok)
    ex = ChatExample(({"role": "user", "content": "Text: good"},), "positive")
    prompt, completion = r.texts(ex)
    assert prompt == render_chat_template(tok.chat_template, [dict(ex.messages[0])])
    assert completion == "positive<|im_end|>"
    t, cut = r.tokenize(ex, 256)
    assert not cut
    n_prompt = len(r.encode(prompt))
    assert t.labels[:n_prompt] == (-100,) * n_prompt
    assert list(t.labels[n_prompt:]) == r.encode(completion) == list(t.input_ids[n_prompt:])


def test_bad_lines_reported_long_examples_truncated(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl", bad=True)
    rows, bad = read_examples(data)
    assert [b.line for b in bad] == [3, 6] and len(rows) == 13
    with pytest.raises(InputError, match="line 3"):
        read_examples(data, strict=True)
    tr = Trainer(data, tmp_path / "out", base=str(tiny), config=_cfg(max_steps=1))
    tr.setup()
    assert tr.train_report.truncated == 1 and len(tr.train_report.skipped) == 2
    assert max(len(e) for e in tr.train_examples) == 64
    assert all(e.n_target > 0 for e in tr.train_examples)


def test_existing_output_refused_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "x").write_text("keep")
    with pytest.raises(InputError, match="--overwrite"):
        prepare_out(out, overwrite=False, resume=False)
    assert (out / "x").read_text() == "keep"
    prepare_out(out, overwrite=True, resume=False)
    assert not (out / "x").exists()


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="lora or full"):
        FinetuneConfig(method="qlora").validate()
    with pytest.raises(ConfigError, match="q8_0"):
        FinetuneConfig(quantization="q2").validate()


def test_training_lowers_loss_and_resume_continues(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl", n=16)
    out = tmp_path / "run"
    cfg = _cfg(epochs=3, lr=5e-3, max_steps=4)
    first = Trainer(data, out, base=str(tiny), config=cfg)
    first.setup()
    assert first.total_steps == 4 and first.steps_per_epoch == 4
    stopped = first.train()
    assert stopped.startswith("max steps") and first.state.step == 4
    ck = latest_checkpoint(out)
    assert ck is not None and ck.name == "step-000004"
    assert len(list_checkpoints(out)) == 2  # keep=2, older ones pruned
    saved_w = {n: p.detach().clone() for n, p in first.trainable}
    exp_avg = next(iter(first.optimizer.state.values()))["exp_avg"].clone()
    # a fresh trainer (as after kill -9) resumes from the checkpoint: same weights, optimizer
    # state, step and position in the epoch; it then trains on to the end of epoch 3
    second = Trainer(data, out, base=str(tiny), config=_cfg(epochs=3, lr=5e-3), resume=True)
    second.setup()
    assert second.state.step == 4 and second.state.epoch == 1 and second.state.batch_in_epoch == 0
    for n, p in second.trainable:
        assert torch.equal(p, saved_w[n])
    st = next(iter(second.optimizer.state.values()))
    assert int(st["step"]) == 4 and torch.equal(st["exp_avg"], exp_avg)
    assert second.scheduler.last_epoch == 4
    second.train()
    assert second.state.step == 12 and second.state.epoch == 3
    losses = [v for _, v in second.state.losses]
    assert len(losses) == 12 and min(losses[-3:]) < losses[0]


def test_mid_epoch_resume_skips_done_batches(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl", n=16)
    out = tmp_path / "run"
    a = Trainer(data, out, base=str(tiny), config=_cfg(max_steps=2))
    a.setup()
    a.train()
    assert a.state.batch_in_epoch == 2 and a.state.epoch == 0
    b = Trainer(data, out, base=str(tiny), config=_cfg(), resume=True)
    b.setup()
    assert b.state.batch_in_epoch == 2
    b.train()
    assert b.state.step == 4 and b.state.epoch == 1


def test_resume_without_checkpoint_is_refused(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl")
    with pytest.raises(InputError, match="nothing to resume"):
        Trainer(data, tmp_path / "none", base=str(tiny), config=_cfg(), resume=True).setup()


def test_eval_and_early_stopping_keep_best(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl", n=8)
    ev = _data(tmp_path / "e.jsonl", n=6)
    # a huge learning rate makes eval loss go up after the first epoch: stop after patience 1
    tr = Trainer(data, tmp_path / "run", eval_data=ev, base=str(tiny),
                 config=_cfg(epochs=6, lr=3.0, patience=1, save_every=100))
    tr.setup()
    stopped = tr.train()
    evals = tr.state.evals
    assert evals and all(e["perplexity"] > 1 for e in evals)
    if stopped.startswith("early stopping"):
        assert len(evals) < 6 and evals[-1]["loss"] >= tr.state.best_eval
    best = min(e["loss"] for e in evals)
    assert tr.state.best_eval == best
    assert tr.evaluate(0).loss == pytest.approx(best, rel=1e-4)  # best weights restored


def test_full_finetune_export_and_gguf_round_trip(tiny: Path, tmp_path: Path) -> None:
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize

    from ponder.finetune.gguf_export import permute_qk

    template = make_tiny_gguf_template(tiny, tmp_path / "template.gguf")
    data = _data(tmp_path / "d.jsonl", n=8)
    base = tmp_path / "base"
    import shutil

    shutil.copytree(tiny, base)
    shutil.copy(template, base / "tiny.gguf")
    tr = Trainer(data, tmp_path / "run", base=str(base),
                 config=_cfg(method="full", max_steps=2, lr=1e-3, export_gguf=True))
    result = tr.run()
    assert result.adapter_dir is None and result.trainable_params == result.total_params
    assert result.gguf and result.gguf["quantization"] == "q8_0"
    assert (Path(result.merged_dir) / "config.json").is_file()
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["steps"] == 2 and report["config"]["method"] == "full"
    reader = GGUFReader(result.gguf["path"])
    tensors = {t.name: t for t in reader.tensors}
    sd = tr.model.state_dict()
    q = tensors["blk.1.attn_q.weight"]
    got = dequantize(q.data, q.tensor_type).reshape(32, 32)
    want = permute_qk(sd["model.layers.1.self_attn.q_proj.weight"].numpy(), 4)
    assert np.abs(got - want).max() < 0.02 * np.abs(want).max()
    norm = tensors["output_norm.weight"]
    assert np.allclose(np.asarray(norm.data), sd["model.norm.weight"].numpy())
    keys = {f for f in reader.fields}
    assert "tokenizer.ggml.tokens" in keys and "tokenizer.chat_template" in keys


def test_perplexity_sliding_window_matches_single_pass(tiny: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ponder.finetune.perplexity import perplexity

    tok = AutoTokenizer.from_pretrained(str(tiny))
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    text = "the film was good and the music was positive " * 6
    whole = perplexity(model, tok, [text], window=256, stride=256)
    slid = perplexity(model, tok, [text], window=24, stride=8)
    assert whole.tokens == slid.tokens == len(tok(text)["input_ids"]) - 1
    assert slid.perplexity > 1 and whole.perplexity > 1
    # with stride == window and no overlap, every window restarts without context
    assert abs(slid.nll - whole.nll) / whole.nll < 0.5


def _cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout + (r.stderr if r.stderr_bytes is not None else "")


def test_cli_finetune_llm_plain_and_errors(tiny: Path, tmp_path: Path) -> None:
    data = _data(tmp_path / "d.jsonl", n=8, bad=True)
    out = tmp_path / "cli-out"
    code, text = _cli("finetune", "llm", "--data", str(data), "--base", str(tiny), "--out",
                      str(out), "--max-steps", "2", "--batch-size", "4", "--max-length", "64",
                      "--no-gguf", "--bf16", "off")
    assert code == 0, text
    assert "steps" in text and "2/2" in text and (out / "merged" / "config.json").is_file()
    assert (out / "adapter" / "adapter_config.json").is_file()
    r = CliRunner().invoke(app, ["finetune", "llm", "--data", str(data), "--base", str(tiny),
                                 "--out", str(out), "--no-gguf"])
    assert r.exit_code != 0 and isinstance(r.exception, InputError)
    assert "--overwrite" in str(r.exception)


def test_cli_eval_perplexity_plain(tiny: Path, tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"body": "the film was good"}) + "\n" +
                 json.dumps({"body": "the music was positive and the food cold"}) + "\n")
    code, text = _cli("eval", "perplexity", "--model", str(tiny), "--input", str(f),
                      "--text-field", "body")
    assert code == 0, text
    assert "perplexity" in text and "2 texts" in text
    r = CliRunner().invoke(app, ["eval", "perplexity", "--model", str(tiny), "--input", str(f)])
    assert isinstance(r.exception, InputError) and "--text-field" in str(r.exception)
