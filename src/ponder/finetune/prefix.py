"""Shared-prefix training steps: run the tokens every example starts with once per batch.

Instruction data made from one template (a classification prompt, a fixed system prompt) starts
every example with the same tokens: with SmolLM2's chat template and the sentiment prompt, 47
of about 85 tokens per tweet. Those tokens carry no loss, and their keys and values are the
same for every row of a batch, so the forward pass can run them once (batch of one), repeat
their cache across the batch, and run only the differing tails. The gradient still flows
through the prefix (LoRA weights act on it too); the loss is the same token-level mean as the
plain forward pass, up to floating-point rounding.

>>> from ponder.finetune.data import TokenizedExample
>>> a = TokenizedExample((1, 2, 3, 7, 8), (-100, -100, -100, -100, 8))
>>> b = TokenizedExample((1, 2, 3, 9, 5, 6), (-100, -100, -100, -100, 5, 6))
>>> shared_prefix_length([a, b])
3
>>> shared_prefix_length([a, TokenizedExample((1, 2, 4), (-100, -100, 4))])
1
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ponder.finetune.data import IGNORE, TokenizedExample

MIN_PREFIX = 8  # below this, the extra forward call costs more than it saves


def shared_prefix_length(examples: Sequence[TokenizedExample]) -> int:
    """Tokens that start every example and that no target depends on: the common prefix,
    cut so that each example's first target is predicted from a tail position (one token
    after the prefix at least) and each tail keeps a token."""
    if not examples:
        return 0
    first = examples[0].input_ids
    n = len(first)
    for e in examples[1:]:
        ids = e.input_ids
        m, lim = 0, min(n, len(ids))
        while m < lim and ids[m] == first[m]:
            m += 1
        n = m
    for e in examples:
        first_target = next((i for i, lab in enumerate(e.labels) if lab != IGNORE), len(e))
        n = min(n, first_target - 1, len(e) - 1)
    return max(n, 0)


def prefix_loss(model: Any, batch: dict[str, Any], prefix: int) -> Any:
    """The causal-LM loss of ``batch`` (``collate``'s right-padded tensors) with its first
    ``prefix`` columns (identical in every row) run once and shared through the KV cache."""
    import torch

    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    rows, width = ids.shape
    head = model(input_ids=ids[:1, :prefix], use_cache=True)
    cache = getattr(head, "cache", None) or head.past_key_values
    if rows > 1:
        cache.batch_repeat_interleave(rows)
    positions = torch.arange(prefix, width, dtype=torch.long).unsqueeze(0).expand(rows, -1)
    out = model(input_ids=ids[:, prefix:], attention_mask=mask, labels=labels[:, prefix:],
                position_ids=positions, use_cache=True, **{_cache_kwarg(model): cache})
    return out.loss


def _cache_kwarg(model: Any) -> str:
    """``cache`` in recent transformers, ``past_key_values`` before."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    params = inspect.signature(base.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


__all__ = ["MIN_PREFIX", "prefix_loss", "shared_prefix_length"]
