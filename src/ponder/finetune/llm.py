"""Fine-tune a causal LM on CPU: LoRA (``peft``) or full, with checkpoints, resume and export.

The loop is plain torch, so that every piece is visible and resumable:

- **Data**: ``ponder.finetune.data`` (chat template, completion-only loss, truncation counted);
  batches bucketed by length (little padding), in an order fixed by the seed and the epoch.
- **Steps**: AdamW, linear warm-up then linear decay, gradient accumulation
  (``grad_accum`` micro-batches per optimizer step), gradient clipping at 1.0; bf16 autocast
  when the CPU has native bf16 (AVX512-BF16 or AMX) and ``bf16="auto"``.
- **Eval**: token-level loss and perplexity on the eval file after each epoch; early stopping
  after ``patience`` epochs without improvement, keeping the best epoch's weights.
- **Checkpoints** every ``save_every`` optimizer steps (``ponder.finetune.checkpoint``); with
  ``resume=True`` training continues from the newest one: same step, optimizer and scheduler
  state, RNG, and the same batch order with the batches already done skipped.
- **Output** (``OUT/``): ``adapter/`` (LoRA), ``merged/`` (a Hugging Face folder any
  ``--model`` accepts), ``model.gguf`` (``ponder.finetune.gguf_export``) and ``report.json``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, InputError
from ponder.finetune.checkpoint import (
    TrainState,
    latest_checkpoint,
    load_checkpoint,
    restore_rng,
    save_checkpoint,
)
from ponder.finetune.data import (
    ChatRenderer,
    DataReport,
    TokenizedExample,
    collate,
    length_batches,
    tokenize_file,
)
from ponder.finetune.loading import BaseModel, load_model, resolve_base
from ponder.finetune.prefix import MIN_PREFIX, prefix_loss, shared_prefix_length
from ponder.finetune.resources import available_memory, check_full_memory
from ponder.llm.cpu_probe import cpu_has_bf16

METHODS = ("lora", "full")
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BF16_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class FinetuneConfig:
    """Every training option (the CLI's flags). ``lr=None`` picks 2e-4 for LoRA, 2e-5 full."""

    method: str = "lora"
    epochs: int = 1
    lr: float | None = None
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 256
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = LLAMA_TARGETS
    lora_layers: int | None = None
    warmup: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0
    bf16: str = "auto"
    save_every: int = 50
    keep_checkpoints: int = 2
    patience: int = 1
    max_steps: int | None = None
    max_minutes: float | None = None
    threads: int | None = None
    strict: bool = False
    quantization: str = "q8_0"
    export_gguf: bool = True

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (2e-4 if self.method == "lora" else 2e-5)

    def validate(self) -> FinetuneConfig:
        if self.method not in METHODS:
            raise ConfigError(f"--method {self.method!r}: use lora or full")
        if self.bf16 not in BF16_MODES:
            raise ConfigError(f"--bf16 {self.bf16!r}: use auto, on or off")
        for name in ("epochs", "batch_size", "grad_accum", "lora_r", "save_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be >= 1")
        if self.max_length < 8:
            raise ConfigError(f"--max-length {self.max_length}: must be >= 8 tokens")
        if self.learning_rate <= 0:
            raise ConfigError(f"--lr {self.lr}: must be > 0, e.g. 2e-4 for LoRA")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"--lora-dropout {self.lora_dropout}: must be in [0, 1)")
        if self.lora_layers is not None and self.lora_layers < 1:
            raise ConfigError(f"--lora-layers {self.lora_layers}: must be >= 1 (or omitted: all)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"--max-steps {self.max_steps}: must be >= 1")
        from ponder.finetune.gguf_export import QUANTIZATIONS

        if self.quantization not in QUANTIZATIONS:
            raise ConfigError(f"--quantization {self.quantization!r}: use one of "
                              f"{', '.join(QUANTIZATIONS)}")
        return self

    def replace(self, **changes: Any) -> FinetuneConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["target_modules"] = list(self.target_modules)
        d["learning_rate"] = self.learning_rate
        return d


@dataclass(frozen=True)
class StepInfo:
    """Reported after each optimizer step (the progress bar's fields)."""

    step: int
    total_steps: int
    epoch: int
    loss: float
    lr: float
    tokens_per_s: float
    elapsed_s: float
    eta_s: float


@dataclass(frozen=True)
class EvalResult:
    """Token-level loss and perplexity on the eval set after an epoch."""

    epoch: int
    step: int
    loss: float
    perplexity: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FinetuneResult:
    """What a run produced and measured."""

    out_dir: str
    base: dict[str, Any]
    config: dict[str, Any]
    train_data: dict[str, Any]
    eval_data: dict[str, Any] | None
    steps: int
    total_steps: int
    train_tokens: int
    tokens_per_s: float
    wall_s: float
    bf16: bool
    trainable_params: int
    total_params: int
    evals: tuple[dict[str, Any], ...]
    stopped: str
    resumed_from: str | None
    adapter_dir: str | None
    merged_dir: str
    gguf: dict[str, Any] | None
    losses: tuple[tuple[int, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["evals"] = list(self.evals)
        d["losses"] = [list(x) for x in self.losses]
        return d


def prepare_out(out: Path, *, overwrite: bool, resume: bool) -> None:
    """Refuse an existing output folder unless ``overwrite`` (wipe it) or ``resume``."""
    if out.exists() and any(out.iterdir()):
        if resume:
            return
        if not overwrite:
            raise InputError(
                f"output folder {out} exists and is not empty: pass --overwrite to replace it, "
                "--resume to continue its training, or choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def _schedule(total: int, warmup: float) -> Callable[[int], float]:
    n_warm = max(1, int(total * warmup)) if warmup > 0 else 0

    def f(step: int) -> float:
        if n_warm and step < n_warm:
            return (step + 1) / n_warm
        return max(0.0, (total - step) / max(1, total - n_warm))

    return f


class Trainer:
    """One fine-tuning run. ``run()`` trains (resuming if asked) and exports.

    Callbacks: ``on_step(StepInfo)`` after each optimizer step, ``on_eval(EvalResult)`` after
    each epoch's evaluation, ``on_notice(str)`` for one-line notices.
    """

    def __init__(self, data: str | Path, out: str | Path, *, eval_data: str | Path | None = None,
                 base: str | BaseModel | None = None, config: FinetuneConfig | None = None,
                 resume: bool = False, overwrite: bool = False,
                 on_step: Callable[[StepInfo], None] | None = None,
                 on_eval: Callable[[EvalResult], None] | None = None,
                 on_notice: Callable[[str], None] | None = None,
                 model_and_tokenizer: tuple[Any, Any] | None = None) -> None:
        self.config = (config or FinetuneConfig()).validate()
        self.data_path = Path(data)
        self.eval_path = Path(eval_data) if eval_data else None
        self.out = Path(out)
        self.base = base if isinstance(base, BaseModel) else resolve_base(base)
        self.resume = resume
        self.overwrite = overwrite
        self.on_step = on_step or (lambda _s: None)
        self.on_eval = on_eval or (lambda _e: None)
        self.on_notice = on_notice or (lambda _m: None)
        self._preloaded = model_and_tokenizer
        self.model: Any = None
        self.tokenizer: Any = None
        self.optimizer: Any = None
        self.scheduler: Any = None
        self.state = TrainState()
        self.resumed_from: str | None = None

    # ------------------------------------------------------------ setup

    def setup(self) -> None:
        """Load data and model, wrap with LoRA, build optimizer and scheduler, resume."""
        import torch

        cfg = self.config
        if not self.data_path.is_file():
            raise InputError(f"training data {self.data_path} not found: give a .jsonl file")
        if self.eval_path is not None and not self.eval_path.is_file():
            raise InputError(f"eval data {self.eval_path} not found: give a .jsonl file")
        if self.resume and latest_checkpoint(self.out) is None:
            raise InputError(f"nothing to resume in {self.out}: no checkpoint there yet; "
                             "run without --resume")
        if self.out.exists() and any(self.out.iterdir()) and not (self.overwrite or
                                                                 self.resume):
            prepare_out(self.out, overwrite=False, resume=False)  # refuses, before any work
        torch.manual_seed(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self._preloaded is not None:
            model, tok = self._preloaded
        else:
            model, tok = load_model(self.base, threads=cfg.threads)
        self.tokenizer = tok
        renderer = ChatRenderer(tok)
        self.train_examples, self.train_report = tokenize_file(
            self.data_path, renderer, cfg.max_length, strict=cfg.strict)
        self.eval_examples: list[TokenizedExample] = []
        self.eval_report: DataReport | None = None
        if self.eval_path is not None:
            self.eval_examples, self.eval_report = tokenize_file(
                self.eval_path, renderer, cfg.max_length, strict=cfg.strict)
        for rep in (self.train_report, self.eval_report):
            if rep is None:
                continue
            for b in rep.skipped[:5]:
                self.on_notice(f"{rep.path} line {b.line} skipped: {b.reason}")
            if len(rep.skipped) > 5:
                self.on_notice(f"{rep.path}: {len(rep.skipped) - 5} more bad lines skipped")
            if rep.truncated:
                self.on_notice(f"{rep.path}: {rep.truncated} examples longer than "
                               f"--max-length {cfg.max_length} were truncated")
        # tokens every example starts with run once per batch (see ponder.finetune.prefix)
        self.train_prefix = shared_prefix_length(self.train_examples)
        self.eval_prefix = shared_prefix_length(self.eval_examples)
        if self.train_prefix >= MIN_PREFIX:
            self.on_notice(f"the {self.train_prefix} tokens every training example starts "
                           "with run once per batch")
        # the data is usable: only now may --overwrite clear the output folder
        prepare_out(self.out, overwrite=self.overwrite, resume=self.resume)
        self.total_params = sum(p.numel() for p in model.parameters())
        if cfg.method == "full":
            check_full_memory(self.total_params, available_memory())
            for p in model.parameters():
                p.requires_grad_(True)
        else:
            from peft import LoraConfig, get_peft_model

            present = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
            targets = [t for t in cfg.target_modules if t in present]
            if not targets:
                raise ConfigError(
                    f"none of the LoRA target modules {list(cfg.target_modules)} is in this "
                    f"model; its linear layers include {sorted(present)[:12]}: pass "
                    "--lora-targets"
                )
            layers = None
            n_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
            if cfg.lora_layers and n_layers:
                # only the top layers: the backward pass stops below the lowest adapted one
                layers = list(range(max(0, n_layers - cfg.lora_layers), n_layers))
            lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                              lora_dropout=cfg.lora_dropout, target_modules=targets,
                              layers_to_transform=layers, bias="none", task_type="CAUSAL_LM")
            model = get_peft_model(model, lcfg)
        self.model = model
        self.bf16 = cfg.bf16 == "on" or (cfg.bf16 == "auto" and cpu_has_bf16())
        self.trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.n_trainable = sum(p.numel() for _, p in self.trainable)
        decay = [p for n, p in self.trainable if p.ndim >= 2]
        no_decay = [p for n, p in self.trainable if p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.learning_rate)
        self.batches_per_epoch = math.ceil(len(self.train_examples) / cfg.batch_size)
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.grad_accum)
        total = self.steps_per_epoch * cfg.epochs
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(self.total_steps, cfg.warmup))
        if self.resume:
            self._restore()

    def trainable_state(self) -> dict[str, Any]:
        return {n: p.detach().clone() for n, p in self.trainable}

    def _restore(self) -> None:
        import torch

        path = latest_checkpoint(self.out)
        assert path is not None
        ck = load_checkpoint(path)
        params = dict(self.trainable)
        missing = set(params) - set(ck.weights)
        if missing:
            raise InputError(
                f"checkpoint {path} does not match this run ({len(missing)} trainable tensors "
                "missing, e.g. another --method or --lora-r): resume with the same options, or "
                "start again with --overwrite"
            )
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(ck.weights[n])
        self.optimizer.load_state_dict(ck.optimizer)
        self.scheduler.load_state_dict(ck.scheduler)
        restore_rng(ck.rng)
        self.state = ck.state
        self.resumed_from = str(path)
        self.on_notice(f"resumed from {path.name}: step {ck.state.step}, epoch "
                       f"{ck.state.epoch + 1}, {ck.state.batch_in_epoch} batches of it done")

    # ------------------------------------------------------------ steps

    def _autocast(self) -> Any:
        import contextlib

        import torch

        if self.bf16:
            return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _loss(self, batch: dict[str, Any], prefix: int = 0) -> Any:
        with self._autocast():
            if prefix >= MIN_PREFIX:
                return prefix_loss(self.model, batch, prefix).float()
            out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             labels=batch["labels"])
        return out.loss.float()

    def evaluate(self, epoch: int) -> EvalResult | None:
        """Token-level loss and perplexity on the eval examples (``None`` without any)."""
        import torch

        if not self.eval_examples:
            return None
        self.model.eval()
        total, count = 0.0, 0
        pad = int(self.tokenizer.pad_token_id)
        lengths = [len(e) for e in self.eval_examples]
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        bs = self.config.batch_size * 2
        with torch.no_grad():
            for lo in range(0, len(order), bs):
                batch = collate([self.eval_examples[i] for i in order[lo:lo + bs]], pad)
                n = int((batch["labels"][:, 1:] != -100).sum())
                if n == 0:
                    continue
                total += float(self._loss(batch, self.eval_prefix)) * n
                count += n
        self.model.train()
        loss = total / max(count, 1)
        return EvalResult(epoch + 1, self.state.step, round(loss, 5),
                          round(math.exp(min(loss, 50)), 4), count)

    def _save(self) -> None:
        save_checkpoint(self.out, self.state, self.trainable_state(), self.optimizer,
                        self.scheduler, keep=self.config.keep_checkpoints)

    def train(self) -> str:
        """Train until done, early-stopped, ``max_steps`` or ``max_minutes``; return why."""
        import torch

        cfg = self.config
        pad = int(self.tokenizer.pad_token_id)
        lengths = [len(e) for e in self.train_examples]
        self.model.train()
        t0 = time.perf_counter() - self.state.elapsed_s
        run_t0, run_tokens0, run_step0 = time.perf_counter(), self.state.tokens, self.state.step
        stopped = "completed"
        best_path = self.out / "best.pt"
        while self.state.epoch < cfg.epochs:
            epoch = self.state.epoch
            batches = length_batches(lengths, cfg.batch_size, seed=cfg.seed, epoch=epoch)
            b = self.state.batch_in_epoch
            accum, accum_loss = 0, 0.0
            while b < len(batches):
                if self.state.step >= self.total_steps:
                    break
                batch = collate([self.train_examples[i] for i in batches[b]], pad)
                loss = self._loss(batch, self.train_prefix)
                (loss / cfg.grad_accum).backward()
                accum += 1
                accum_loss += float(loss.detach())
                b += 1
                n_tok = int(batch["attention_mask"].sum())
                self.state = self.state.replace(tokens=self.state.tokens + n_tok)
                if accum < cfg.grad_accum and b < len(batches):
                    continue
                torch.nn.utils.clip_grad_norm_([p for _, p in self.trainable], 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                step_loss = accum_loss / accum
                accum, accum_loss = 0, 0.0
                now = time.perf_counter()
                self.state = self.state.replace(
                    step=self.state.step + 1, batch_in_epoch=b, elapsed_s=now - t0,
                    losses=(*self.state.losses, (self.state.step + 1, round(step_loss, 5))))
                run_s = now - run_t0
                done = self.state.step - run_step0
                tps = (self.state.tokens - run_tokens0) / run_s if run_s > 0 else 0.0
                eta = run_s / done * (self.total_steps - self.state.step) if done else 0.0
                self.on_step(StepInfo(self.state.step, self.total_steps, epoch + 1, step_loss,
                                      float(self.scheduler.get_last_lr()[0]), tps,
                                      now - t0, eta))
                if self.state.step % cfg.save_every == 0:
                    self._save()
                if cfg.max_minutes is not None and run_s > cfg.max_minutes * 60:
                    stopped = f"time limit ({cfg.max_minutes} min)"
                    break
            cut_short = self.state.step >= self.total_steps and b < len(batches)
            if stopped != "completed" or cut_short:
                if stopped == "completed":
                    stopped = f"max steps ({self.total_steps})"
                ev = self.evaluate(epoch)
                if ev is not None:
                    self.on_eval(ev)
                    self.state = self.state.replace(evals=(*self.state.evals, ev.to_dict()))
                break
            # end of epoch: evaluate, early stopping
            ev = self.evaluate(epoch)
            st = self.state.replace(epoch=epoch + 1, batch_in_epoch=0)
            if ev is not None:
                self.on_eval(ev)
                st = st.replace(evals=(*st.evals, ev.to_dict()))
                if st.best_eval is None or ev.loss < st.best_eval:
                    st = st.replace(best_eval=ev.loss, best_epoch=epoch + 1, bad_epochs=0)
                    torch.save(self.trainable_state(), best_path)
                else:
                    st = st.replace(bad_epochs=st.bad_epochs + 1)
            self.state = st
            self._save()
            if ev is not None and st.bad_epochs >= cfg.patience and st.epoch < cfg.epochs:
                stopped = f"early stopping (no eval improvement for {st.bad_epochs} epoch(s))"
                break
        if stopped != "completed":
            self._save()
        if self.eval_examples and best_path.is_file() and self.state.best_epoch is not None:
            last = self.state.evals[-1]["loss"] if self.state.evals else None
            if last is not None and last != self.state.best_eval:  # NaN != best too
                best = torch.load(best_path, map_location="cpu", weights_only=True)
                with torch.no_grad():
                    for n, p in self.trainable:
                        p.copy_(best[n])
                self.on_notice(f"kept the weights of epoch {self.state.best_epoch} "
                               f"(best eval loss {self.state.best_eval})")
        return stopped

    # ------------------------------------------------------------ output

    def export(self) -> tuple[str | None, Path, dict[str, Any] | None]:
        """Write ``adapter/`` (LoRA), ``merged/`` and ``model.gguf``."""
        adapter_dir = None
        model = self.model
        if self.config.method == "lora":
            adapter_dir = self.out / "adapter"
            model.save_pretrained(str(adapter_dir))
            self.tokenizer.save_pretrained(str(adapter_dir))
            model = model.merge_and_unload()
            self.model = model
        merged = self.out / "merged"
        model.save_pretrained(str(merged))
        self.tokenizer.save_pretrained(str(merged))
        gguf_info = None
        if self.config.export_gguf:
            from ponder.finetune.gguf_export import export_gguf

            if self.base.gguf is None:
                self.on_notice("no GGUF export: the base is a Hugging Face folder without a "
                               ".gguf file to take the tokenizer metadata from")
            else:
                info = export_gguf(model, self.base.gguf, self.out / "model.gguf",
                                   quantization=self.config.quantization)
                gguf_info = info.to_dict()
        return (str(adapter_dir) if adapter_dir else None), merged, gguf_info

    def run(self) -> FinetuneResult:
        t0 = time.perf_counter()
        self.setup()
        tokens0, elapsed0 = self.state.tokens, self.state.elapsed_s
        stopped = self.train()
        train_s = self.state.elapsed_s - elapsed0
        adapter, merged, gguf_info = self.export()
        result = FinetuneResult(
            out_dir=str(self.out), base=self.base.to_dict(), config=self.config.to_dict(),
            train_data=self.train_report.to_dict(),
            eval_data=self.eval_report.to_dict() if self.eval_report else None,
            steps=self.state.step, total_steps=self.total_steps,
            train_tokens=self.state.tokens,
            tokens_per_s=round((self.state.tokens - tokens0) / train_s, 1) if train_s > 0 else 0.0,
            wall_s=round(time.perf_counter() - t0, 1), bf16=self.bf16,
            trainable_params=self.n_trainable, total_params=self.total_params,
            evals=self.state.evals, stopped=stopped, resumed_from=self.resumed_from,
            adapter_dir=adapter, merged_dir=str(merged), gguf=gguf_info,
            losses=self.state.losses,
        )
        (self.out / "report.json").write_text(json.dumps(result.to_dict(), indent=1))
        return result


def finetune_llm(data: str | Path, out: str | Path, **kwargs: Any) -> FinetuneResult:
    """``Trainer(data, out, **kwargs).run()``."""
    return Trainer(data, out, **kwargs).run()


__all__ = [
    "METHODS",
    "EvalResult",
    "FinetuneConfig",
    "FinetuneResult",
    "StepInfo",
    "Trainer",
    "check_full_memory",
    "finetune_llm",
]
