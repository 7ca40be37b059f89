"""Token-level perplexity of a causal LM over texts, with a sliding window over long ones.

``perplexity = exp(total negative log-likelihood / tokens predicted)`` over every text (each
text's first token has no context and is not predicted). A text longer than ``window`` tokens
is read in windows of ``window`` tokens moved by ``stride``: each token is predicted once, by
the window that ends nearest after it, with up to ``window - stride`` tokens of context before
it (the Hugging Face "perplexity of fixed-length models" recipe).

>>> windows(10, window=4, stride=2)
[(0, 4, 1), (2, 6, 4), (4, 8, 6), (6, 10, 8)]
>>> windows(3, window=8, stride=4)
[(0, 3, 1)]
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, InputError


@dataclass(frozen=True)
class PerplexityResult:
    """Perplexity over ``texts`` texts and ``tokens`` predicted tokens."""

    model: str
    input: str
    texts: int
    tokens: int
    nll: float
    perplexity: float
    window: int
    stride: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def windows(n: int, *, window: int, stride: int) -> list[tuple[int, int, int]]:
    """``(start, end, first_scored)`` windows over ``n`` tokens: positions ``first_scored ..
    end - 1`` are predicted in window ``start .. end - 1``, each position exactly once."""
    if window < 2 or not 0 < stride <= window:
        raise ConfigError(f"window={window}, stride={stride}: need window >= 2 and "
                          "0 < stride <= window")
    out: list[tuple[int, int, int]] = []
    done = 1  # position 0 has no context
    start = 0
    while done < n:
        end = min(start + window, n)
        out.append((start, end, max(done, start + 1)))
        done = end
        if end == n:
            break
        start += stride
    return out


def load_texts(path: str | Path, *, text_field: str = "text", limit: int | None = None) -> list[
        str]:
    """Texts from a ``.jsonl`` file (the ``text_field`` of each line; bad lines are an error
    naming the line) or a ``.txt`` file (the whole file, one text)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p} not found: give a .jsonl or .txt file")
    if p.suffix.lower() in (".jsonl", ".json"):
        texts: list[str] = []
        with p.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{p} line {n}: not valid JSON ({e})") from None
                val = obj.get(text_field) if isinstance(obj, dict) else None
                if not isinstance(val, str):
                    keys = sorted(obj) if isinstance(obj, dict) else []
                    raise InputError(f"{p} line {n} has no text field {text_field!r}: pass "
                                     f"--text-field (its keys: {keys})")
                if val.strip():
                    texts.append(val)
                if limit and len(texts) >= limit:
                    break
    else:
        texts = [p.read_text(encoding="utf-8", errors="replace")]
    if not texts:
        raise InputError(f"{p} holds no text")
    return texts


def perplexity(model: Any, tokenizer: Any, texts: Sequence[str], *, window: int = 512,
               stride: int = 256, batch_size: int = 4, name: str = "", source: str = "",
               progress: Callable[[int], None] | None = None) -> PerplexityResult:
    """Perplexity of ``model`` (a transformers causal LM) over ``texts``."""
    import torch

    t0 = time.perf_counter()
    max_pos = int(getattr(model.config, "max_position_embeddings", window) or window)
    window = min(window, max_pos)
    stride = min(stride, window)
    jobs: list[tuple[list[int], int]] = []  # (ids of the window, index of the first scored)
    bos = getattr(tokenizer, "bos_token_id", None)
    add_bos = bool(getattr(tokenizer, "add_bos_token", False)) and bos is not None
    for text in texts:
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if add_bos:
            ids = [int(bos), *ids]
        for s, e, first in windows(len(ids), window=window, stride=stride):
            jobs.append((ids[s:e], first - s))
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    order = sorted(range(len(jobs)), key=lambda i: len(jobs[i][0]))
    nll, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(order), batch_size):
            group = [jobs[i] for i in order[lo:lo + batch_size]]
            width = max(len(g[0]) for g in group)
            ids = torch.full((len(group), width), pad, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            score = torch.zeros((len(group), width), dtype=torch.bool)
            for r, (w, first) in enumerate(group):
                ids[r, :len(w)] = torch.tensor(w)
                mask[r, :len(w)] = 1
                score[r, first:len(w)] = True
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            tgt = ids[:, 1:]
            tok_lp = logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
            sel = score[:, 1:]
            nll -= float(tok_lp[sel].sum())
            count += int(sel.sum())
            if progress:
                progress(len(group))
    if count == 0:
        raise InputError("the texts are too short: no token could be predicted (need at least "
                         "two tokens per text)")
    return PerplexityResult(
        model=name, input=source, texts=len(texts), tokens=count, nll=round(nll, 3),
        perplexity=round(math.exp(nll / count), 4), window=window, stride=stride,
        seconds=round(time.perf_counter() - t0, 2))


def load_for_perplexity(spec: str | None, *, threads: int | None = None) -> tuple[Any, Any, str]:
    """``(model, tokenizer, name)`` for a model spec: ``default``/``smollm2`` (the shipped
    GGUF, dequantized), a ``.gguf`` file, or a Hugging Face folder (e.g. ``OUT/merged``)."""
    from ponder.finetune.loading import load_model, resolve_base

    base = resolve_base(spec)
    model, tok = load_model(base, threads=threads)
    return model, tok, str(spec or "default")


__all__ = ["PerplexityResult", "load_for_perplexity", "load_texts", "perplexity", "windows"]
