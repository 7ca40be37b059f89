"""Export a fine-tuned (merged) Llama-family model to a GGUF file that llama.cpp loads.

The base model's own GGUF is the template: every metadata key (architecture, context length,
RoPE, the tokenizer's vocabulary, merges, special tokens, chat template) is copied from it, and
each of its tensors is replaced by the fine-tuned weight of the same role, written with the
``gguf`` package. Fine-tuning (LoRA merged, or full) changes weights, never shapes, so the
template describes the new model exactly.

Quantization (``quantization=``): ``q8_0`` (default: 8-bit blocks of 32 with one scale, about
1.07 bytes per weight, near-lossless), ``f16`` or ``f32``; 1-D tensors (norms) stay f32. The
shipped base is Q4_1; exporting at Q8_0 keeps the fine-tuned weights more faithfully.

llama.cpp stores the query and key projections of Llama models with their rows permuted for
its RoPE layout; transformers undoes that when it reads a GGUF, so it is redone here:

>>> import numpy as np
>>> w = np.arange(8, dtype=np.float32).reshape(4, 2)
>>> permute_qk(w, 1).ravel().tolist()
[0.0, 1.0, 4.0, 5.0, 2.0, 3.0, 6.0, 7.0]
>>> gguf_to_hf("blk.3.attn_q.weight")
('model.layers.3.self_attn.q_proj.weight', 'q')
>>> gguf_to_hf("output_norm.weight")
('model.norm.weight', '')
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError, ModelError

QUANTIZATIONS = ("q8_0", "f16", "f32")

_GLOBAL = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_BLOCK = {
    "attn_norm.weight": ("input_layernorm.weight", ""),
    "ffn_norm.weight": ("post_attention_layernorm.weight", ""),
    "attn_q.weight": ("self_attn.q_proj.weight", "q"),
    "attn_k.weight": ("self_attn.k_proj.weight", "k"),
    "attn_v.weight": ("self_attn.v_proj.weight", ""),
    "attn_output.weight": ("self_attn.o_proj.weight", ""),
    "ffn_gate.weight": ("mlp.gate_proj.weight", ""),
    "ffn_up.weight": ("mlp.up_proj.weight", ""),
    "ffn_down.weight": ("mlp.down_proj.weight", ""),
}
_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class GgufExport:
    """What ``export_gguf`` wrote."""

    path: str
    quantization: str
    template: str
    tensors: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def gguf_to_hf(name: str) -> tuple[str, str]:
    """The transformers (Llama) name of a GGUF tensor, and ``"q"``/``"k"`` if permuted."""
    if name in _GLOBAL:
        return _GLOBAL[name], ""
    m = _BLK.match(name)
    if m and m.group(2) in _BLOCK:
        hf, perm = _BLOCK[m.group(2)]
        return f"model.layers.{m.group(1)}.{hf}", perm
    raise ModelError(
        f"GGUF tensor {name!r} has no Llama counterpart: the export supports Llama-family "
        "models (SmolLM2, Llama, Mistral-style); use llama.cpp's convert_hf_to_gguf.py on the "
        "merged/ folder for others"
    )


def permute_qk(w: Any, n_head: int) -> Any:
    """llama.cpp's row permutation of a query/key projection (``n_head`` heads)."""
    rows = w.shape[0]
    return (w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def _field_value(f: Any) -> Any:
    from gguf import GGUFValueType

    vtype = GGUFValueType(f.types[0])
    if vtype == GGUFValueType.ARRAY:
        sub = GGUFValueType(f.types[-1])
        if sub == GGUFValueType.STRING:
            return [bytes(f.parts[i]).decode("utf-8") for i in f.data], sub
        return [f.parts[i].tolist()[0] for i in f.data], sub
    if vtype == GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8"), None
    return f.parts[f.data[0]].tolist()[0], None


def export_gguf(model: Any, template: str | Path, out: str | Path, *,
                quantization: str = "q8_0") -> GgufExport:
    """Write ``model`` (a transformers Llama-family causal LM, LoRA merged) to ``out`` with
    the metadata and tensor layout of the GGUF ``template``."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter, LlamaFileType
    from gguf.quants import quantize

    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"quantization {quantization!r}: use one of {', '.join(QUANTIZATIONS)}")
    reader = GGUFReader(str(template))
    arch_f = reader.fields["general.architecture"]
    arch = bytes(arch_f.parts[arch_f.data[0]]).decode()
    out = Path(out)
    tmp = out.with_suffix(".gguf.tmp")
    writer = GGUFWriter(str(tmp), arch)
    meta: dict[str, Any] = {}
    skip = {"general.architecture", "general.file_type", "general.quantization_version"}
    for name, f in reader.fields.items():
        if name.startswith("GGUF.") or name in skip:
            continue
        val, sub = _field_value(f)
        meta[name] = val
        writer.add_key_value(name, val, GGUFValueType(f.types[0]), sub_type=sub)
    ftype = {"q8_0": LlamaFileType.MOSTLY_Q8_0, "f16": LlamaFileType.MOSTLY_F16,
             "f32": LlamaFileType.ALL_F32}[quantization]
    writer.add_file_type(ftype)
    writer.add_quantization_version(2)
    n_head = int(meta.get(f"{arch}.attention.head_count", 0))
    n_kv = int(meta.get(f"{arch}.attention.head_count_kv", n_head))
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    if "lm_head.weight" not in state and "model.embed_tokens.weight" in state:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    count = 0
    for t in reader.tensors:
        hf, perm = gguf_to_hf(t.name)
        if hf not in state:
            raise ModelError(f"the model has no weight {hf} for GGUF tensor {t.name}: is "
                             f"{template} the GGUF of this model's base?")
        w = state[hf].numpy().astype(np.float32)
        expected = tuple(int(x) for x in reversed(t.shape.tolist()))
        if tuple(w.shape) != expected:
            raise ModelError(f"{hf} has shape {tuple(w.shape)}, the template's {t.name} "
                             f"{expected}: the template is not this model's base")
        if perm:
            w = permute_qk(w, n_head if perm == "q" else n_kv)
        if w.ndim == 1 or quantization == "f32":
            writer.add_tensor(t.name, w)
        elif quantization == "f16" or w.shape[-1] % 32:
            writer.add_tensor(t.name, w.astype(np.float16))
        else:
            q = quantize(w, GGMLQuantizationType.Q8_0)
            writer.add_tensor(t.name, q, raw_dtype=GGMLQuantizationType.Q8_0)
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return GgufExport(str(out), quantization, str(template), count, out.stat().st_size)


__all__ = ["QUANTIZATIONS", "GgufExport", "export_gguf", "gguf_to_hf", "permute_qk"]
