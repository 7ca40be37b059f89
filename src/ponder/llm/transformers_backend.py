"""Hugging Face transformers backend: a local model folder through ``AutoModelForCausalLM``.

Decoding goes through Ponder's own loop (``ponder.llm.decoding`` and ``beam``) over the
model's logits rather than ``model.generate``, so strategies, seeds, stop strings and
``--explain`` behave exactly as on llama.cpp. The key/value cache is a ``DynamicCache``:
cropped to the common prefix when the next prompt starts like the last one, copied and
reordered by parent for beam search. torch and transformers are imported on first use.
Nothing is downloaded: the folder must hold the weights and the tokenizer.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import BackendUnavailableError, ModelError, ModelNotFoundError
from ponder.llm.base import Message, StreamInfo
from ponder.llm.logits import LogitsGenerator


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    """GPT-2's printable-character-to-byte table (byte-level BPE vocabularies)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


class TransformersGenerator(LogitsGenerator):
    """A causal LM folder (``config.json``, weights, tokenizer files) on CPU, float32.

    ``context_window`` defaults to the model's ``max_position_embeddings``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        n_threads: int | None = None,
        context_window: int | None = None,
        model_id: str | None = None,
    ) -> None:
        p = Path(path).expanduser()
        if not (p / "config.json").is_file():
            raise ModelNotFoundError(
                f"{p} is not a Hugging Face model folder (no config.json): point --model at "
                "the folder holding config.json, the weights and the tokenizer"
            )
        self.path = p
        self.model_id = model_id or p.name
        self.n_threads = n_threads
        self._window = context_window
        self._model: Any = None
        self._ids: list[int] = []
        self._cache: Any = None
        self._pieces: dict[int, bytes] = {}

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise BackendUnavailableError(
                f"the transformers backend needs torch and transformers ({e}): "
                "pip install transformers torch==2.13.0"
            ) from e
        if self.n_threads:
            torch.set_num_threads(self.n_threads)
        try:
            tok = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                str(self.path), local_files_only=True, dtype=torch.float32
            )
        except (OSError, ValueError) as e:
            raise ModelError(f"transformers cannot load {self.path}: {e}") from e
        model.eval()

        # transformers 5 renamed ``past_key_values`` to ``cache``
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._torch = torch
        self._tok = tok
        cfg = model.config
        self._window = self._window or int(getattr(cfg, "max_position_embeddings", 2048))
        eos: set[int] = set()
        for src in (getattr(model, "generation_config", None), cfg, tok):
            val = getattr(src, "eos_token_id", None)
            if isinstance(val, int):
                eos.add(val)
            elif isinstance(val, list | tuple):
                eos.update(int(v) for v in val)
        self._eog = frozenset(eos)
        self._special = frozenset(int(i) for i in tok.all_special_ids)
        vocab = tok.get_vocab()
        self._byte_level = any(t.startswith("Ġ") for t in list(vocab)[:5000])
        self._model = model

    def close(self) -> None:
        self._model = None
        self._cache = None
        self._ids = []

    @property
    def context_window(self) -> int:  # type: ignore[override]
        self._load()
        return int(self._window or 0)

    @property
    def has_chat_template(self) -> bool:  # type: ignore[override]
        self._load()
        return bool(getattr(self._tok, "chat_template", None))

    @property
    def eog_ids(self) -> frozenset[int]:
        self._load()
        return self._eog

    # ------------------------------------------------------------ tokens

    def render_messages(self, messages: Sequence[Message]) -> str:
        self._load()
        if not getattr(self._tok, "chat_template", None):
            return super().render_messages(messages)
        return str(
            self._tok.apply_chat_template(
                [m.to_dict() for m in messages], tokenize=False, add_generation_prompt=True
            )
        )

    def _encode(self, prompt: str | list[Message]) -> list[int]:
        self._load()
        if isinstance(prompt, str):
            return list(self._tok(prompt, add_special_tokens=True)["input_ids"])
        text = self.render_messages(prompt)
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def _encode_text(self, text: str) -> list[int]:
        self._load()
        return list(self._tok(text, add_special_tokens=False)["input_ids"]) if text else []

    def _piece(self, token_id: int) -> bytes:
        p = self._pieces.get(token_id)
        if p is None:
            self._load()
            if token_id in self._special:
                p = b""
            else:
                tok = self._tok.convert_ids_to_tokens(int(token_id))
                table = _byte_decoder()
                if self._byte_level and tok is not None and all(c in table for c in tok):
                    p = bytes(table[c] for c in tok)
                else:
                    p = self._tok.decode([int(token_id)]).encode("utf-8")
            self._pieces[token_id] = p
        return p

    # ------------------------------------------------------------ forward passes

    def _forward(self, ids: Sequence[int], cache: Any, rows: int = 1) -> tuple[np.ndarray, Any]:
        torch = self._torch
        with torch.inference_mode():
            out = self._model(
                input_ids=torch.tensor([list(ids)], dtype=torch.long),
                use_cache=True,
                **{self._cache_kw: cache},
            )
        logits = out.logits[0, -rows:].float().numpy()
        return logits, _out_cache(out)

    def _prefill(self, ids: list[int], info: StreamInfo) -> np.ndarray:
        self._load()
        keep = 0
        for a, b in zip(self._ids, ids, strict=False):
            if a != b:
                break
            keep += 1
        keep = min(keep, len(ids) - 1)
        cache = self._cache
        if cache is None or keep == 0 or not getattr(cache, "is_croppable", True):
            from transformers import DynamicCache

            cache, keep = DynamicCache(config=self._model.config), 0
        else:
            extra = int(cache.get_seq_length()) - keep
            if extra > 0:
                cache.crop(-extra)  # a negative count removes tokens in every version
        info.cached_tokens = keep
        logits, cache = self._forward(ids[keep:], cache)
        self._cache = cache
        self._ids = list(ids)
        return logits[-1]

    def _advance(self, token_id: int) -> np.ndarray:
        logits, self._cache = self._forward([token_id], self._cache)
        self._ids.append(token_id)
        return logits[-1]

    @contextmanager
    def _beam_session(
        self, n_prompt: int, num_beams: int, first_logits: np.ndarray
    ) -> Iterator[_HFBeams]:
        yield _HFBeams(self, copy.deepcopy(self._cache), first_logits)

    def _continuation_logits(
        self, prompt_ids: list[int], continuations: list[list[int]]
    ) -> list[np.ndarray]:
        first = self._prefill(prompt_ids, StreamInfo())
        out = []
        for c in continuations:
            if len(c) == 1:
                out.append(first[None, :])
                continue
            logits, _ = self._forward(c[:-1], copy.deepcopy(self._cache), rows=len(c) - 1)
            out.append(np.concatenate([first[None, :], logits]))
        return out


def _out_cache(out: Any) -> Any:
    cache = out.get("cache")  # transformers 5; earlier versions call it past_key_values
    return cache if cache is not None else out.past_key_values


class _HFBeams:
    """Beams as rows of a batched ``DynamicCache``, reordered by parent at every step."""

    def __init__(self, gen: TransformersGenerator, cache: Any, first: np.ndarray) -> None:
        self.gen = gen
        self.cache = cache
        self.first = first

    def start(self) -> np.ndarray:
        return self.first

    def step(self, parents: Sequence[int], tokens: Sequence[int]) -> np.ndarray:
        torch = self.gen._torch
        self.cache.reorder_cache(torch.tensor(list(parents), dtype=torch.long))
        with torch.inference_mode():
            out = self.gen._model(
                input_ids=torch.tensor([[t] for t in tokens], dtype=torch.long),
                use_cache=True,
                **{self.gen._cache_kw: self.cache},
            )
        self.cache = _out_cache(out)
        return out.logits[:, -1].float().numpy()


__all__ = ["TransformersGenerator"]
