"""Training data for ``ponder finetune llm``: JSONL in, token ids with completion-only labels out.

Each line is ``{"prompt": ..., "completion": ...}`` or ``{"messages": [...]}`` (the last
message is the assistant's reply to learn; the ones before it are the prompt). The model's own
chat template renders the prompt exactly as Ponder renders it at inference (a user message,
then the assistant header), and the completion is the reply followed by the template's
end-of-turn text. The loss covers completion tokens only (prompt labels are ``-100``).

Bad lines are reported with their line number and skipped (or, with ``strict=True``, fatal):

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "t.jsonl")
>>> _ = open(p, "w").write('{"prompt": "Hi", "completion": "Hello"}\\nnot json\\n'
...                        '{"messages": [{"role": "user", "content": "2+2?"},'
...                        ' {"role": "assistant", "content": "4"}]}\\n{"prompt": "x"}\\n')
>>> rows, bad = read_examples(p)
>>> [(r.line, r.messages[-1]["content"], r.completion) for r in rows]
[(1, 'Hi', 'Hello'), (3, '2+2?', '4')]
>>> [(b.line, b.reason[:30]) for b in bad]
[(2, 'not valid JSON (Expecting valu'), (4, 'needs "prompt" and "completion')]
>>> read_examples(p, strict=True)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.InputError: ...t.jsonl line 2: not valid JSON ...

Examples longer than ``max_length`` tokens are truncated and counted (``fit_length``):

>>> fit_length([1, 2, 3, 4, 5, 6], [7, 8], 5)
([4, 5, 6], [7, 8])
>>> fit_length([1, 2], [7, 8, 9, 10], 4)
([1, 2], [7, 8])
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import InputError

IGNORE = -100
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatExample:
    """One training example: the prompt messages and the reply to learn."""

    messages: tuple[dict[str, str], ...]
    completion: str
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"messages": list(self.messages), "completion": self.completion, "line": self.line}


@dataclass(frozen=True)
class BadLine:
    """A line that could not be used, and why."""

    line: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason}


@dataclass(frozen=True)
class TokenizedExample:
    """Token ids of prompt + completion; ``labels`` is ``-100`` over the prompt."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_target(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


@dataclass(frozen=True)
class DataReport:
    """What loading a data file did: examples kept, lines skipped, examples truncated."""

    path: str
    examples: int
    skipped: tuple[BadLine, ...] = ()
    truncated: int = 0
    tokens: int = 0
    target_tokens: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "examples": self.examples,
            "skipped": [b.to_dict() for b in self.skipped], "truncated": self.truncated,
            "tokens": self.tokens, "target_tokens": self.target_tokens, "notes": list(self.notes),
        }


def _parse(obj: Any) -> tuple[tuple[dict[str, str], ...], str]:
    if not isinstance(obj, dict):
        raise ValueError("a line must be a JSON object")
    if "messages" in obj:
        msgs = obj["messages"]
        if not isinstance(msgs, list) or len(msgs) < 2:
            raise ValueError('"messages" must be a list of at least two messages')
        clean: list[dict[str, str]] = []
        for m in msgs:
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(
                m.get("content"), str
            ):
                raise ValueError(
                    'each message needs "role" (system, user or assistant) and "content" (text)'
                )
            clean.append({"role": m["role"], "content": m["content"]})
        if clean[-1]["role"] != "assistant":
            raise ValueError("the last message must be the assistant's reply (what to learn)")
        if not clean[-1]["content"]:
            raise ValueError("the assistant's reply is empty")
        return tuple(clean[:-1]), clean[-1]["content"]
    prompt, completion = obj.get("prompt"), obj.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise ValueError('needs "prompt" and "completion" (strings), or "messages"')
    if not completion:
        raise ValueError('"completion" is empty')
    return ({"role": "user", "content": prompt},), completion


def read_examples(path: str | Path, *, strict: bool = False) -> tuple[list[ChatExample],
                                                                        list[BadLine]]:
    """Parse a JSONL file; bad lines are returned (or raise ``InputError`` when ``strict``)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"training data {p} not found: give a .jsonl file")
    rows: list[ChatExample] = []
    bad: list[BadLine] = []
    with p.open(encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"not valid JSON ({e})") from None
                msgs, completion = _parse(obj)
            except ValueError as e:
                if strict:
                    raise InputError(
                        f"{p} line {n}: {e}; fix the line, or drop --strict to skip bad lines"
                    ) from None
                bad.append(BadLine(n, str(e)))
                continue
            rows.append(ChatExample(msgs, completion, n))
    if not rows:
        raise InputError(
            f"{p} has no usable example ({len(bad)} bad lines): each line needs "
            '{"prompt": ..., "completion": ...} or {"messages": [...]}'
        )
    return rows, bad


def fit_length(prompt: list[int], completion: list[int], max_length: int) -> tuple[list[int],
                                                                                     list[int]]:
    """Cut an example to ``max_length`` tokens: the completion keeps at least half the budget
    (or all of it if shorter); the prompt loses its *start* (the end, next to the reply, is
    what the reply depends on most); a completion too long loses its end."""
    if len(prompt) + len(completion) <= max_length:
        return prompt, completion
    keep_c = min(len(completion), max(max_length - len(prompt), max_length // 2))
    keep_p = max_length - keep_c
    return prompt[len(prompt) - keep_p:] if keep_p else [], completion[:keep_c]


class ChatRenderer:
    """Renders examples with a tokenizer's chat template the way Ponder's generators do."""

    def __init__(self, tokenizer: Any, template: str | None = None) -> None:
        self.tok = tokenizer
        self.template = template if template is not None else getattr(
            tokenizer, "chat_template", None) or ""
        self.bos = getattr(tokenizer, "bos_token", None) or ""
        self.eos = getattr(tokenizer, "eos_token", None) or ""

    def _render(self, messages: Sequence[dict[str, str]], add_generation_prompt: bool) -> str:
        from ponder.llm.chat import render_chat_template

        return render_chat_template(self.template, messages, bos_token=self.bos,
                                    eos_token=self.eos, add_generation_prompt=add_generation_prompt)

    def texts(self, ex: ChatExample) -> tuple[str, str]:
        """``(prompt text, completion text)``; the completion ends with the end-of-turn text."""
        if not self.template:
            prompt = "\n\n".join(m["content"] for m in ex.messages) + "\n"
            return prompt, ex.completion + self.eos
        prompt = self._render(ex.messages, True)
        full = self._render([*ex.messages, {"role": "assistant", "content": ex.completion}],
                            False)
        if full.startswith(prompt) and ex.completion in full[len(prompt):]:
            tail = full[len(prompt):]
            cut = tail.index(ex.completion) + len(ex.completion)
            end = tail[cut:].rstrip("\n")
            return prompt, tail[:cut] + end
        return prompt, ex.completion + self.eos

    def encode(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def tokenize(self, ex: ChatExample, max_length: int) -> tuple[TokenizedExample, bool]:
        prompt, completion = self.texts(ex)
        p_ids, c_ids = self.encode(prompt), self.encode(completion)
        add_bos = bool(getattr(self.tok, "add_bos_token", False))
        bos_id = getattr(self.tok, "bos_token_id", None)
        if add_bos and bos_id is not None and (not p_ids or p_ids[0] != bos_id):
            p_ids = [int(bos_id), *p_ids]
        cut = len(p_ids) + len(c_ids) > max_length
        p_ids, c_ids = fit_length(p_ids, c_ids, max_length)
        ids = tuple(p_ids + c_ids)
        labels = tuple([IGNORE] * len(p_ids) + c_ids)
        return TokenizedExample(ids, labels), cut


def tokenize_file(path: str | Path, renderer: ChatRenderer, max_length: int, *,
                  strict: bool = False) -> tuple[list[TokenizedExample], DataReport]:
    """Read, render and tokenize a JSONL file; the report counts skips and truncations."""
    rows, bad = read_examples(path, strict=strict)
    out: list[TokenizedExample] = []
    truncated = 0
    for ex in rows:
        t, cut = renderer.tokenize(ex, max_length)
        truncated += cut
        out.append(t)
    report = DataReport(
        path=str(path), examples=len(out), skipped=tuple(bad), truncated=truncated,
        tokens=sum(len(t) for t in out), target_tokens=sum(t.n_target for t in out),
    )
    return out, report


def length_batches(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int,
                   window: int = 64) -> list[list[int]]:
    """Bucket by length: shuffle (seeded by ``seed`` and ``epoch``), sort each window of
    ``window * batch_size`` examples by length, cut into batches, shuffle the batches. The
    same arguments give the same batches, which is what lets ``--resume`` skip those done.

    >>> b = length_batches([5, 1, 9, 3, 7, 2], 2, seed=0, epoch=0)
    >>> sorted(i for batch in b for i in batch), all(len(x) == 2 for x in b)
    ([0, 1, 2, 3, 4, 5], True)
    >>> b == length_batches([5, 1, 9, 3, 7, 2], 2, seed=0, epoch=0)
    True
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    batches: list[list[int]] = []
    span = max(1, window * batch_size)
    for lo in range(0, len(idx), span):
        chunk = sorted(idx[lo:lo + span], key=lambda i: lengths[i])
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[TokenizedExample], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors ``input_ids``, ``attention_mask``, ``labels`` for one batch."""
    import torch

    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for r, e in enumerate(examples):
        n = len(e)
        ids[r, :n] = torch.tensor(e.input_ids)
        mask[r, :n] = 1
        labels[r, :n] = torch.tensor(e.labels)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


ProgressFn = Callable[[int], None]

__all__ = [
    "IGNORE",
    "BadLine",
    "ChatExample",
    "ChatRenderer",
    "DataReport",
    "TokenizedExample",
    "collate",
    "fit_length",
    "length_batches",
    "read_examples",
    "tokenize_file",
]
