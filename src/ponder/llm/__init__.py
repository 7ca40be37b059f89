"""Text generation: one ``Generator`` API over llama.cpp, transformers and OpenAI-compatible
servers, with greedy, beam, sampling (top-k, top-p, temperature) and stochastic beam search.

``load_generator(spec)`` picks the backend from a short spec:

===================================  =====================================================
spec                                 backend
===================================  =====================================================
``None``                             ``settings.model`` (``PONDER_MODEL``), else ``smollm2``
``"smollm2"``                        llama.cpp on SmolLM2-135M-Instruct Q4_1 (embedded GGUF)
``"path/to/model.gguf"``             llama.cpp on that file
``"path/to/hf-folder"``              transformers (a folder with ``config.json``)
``"openai:http://host:8000/v1#m"``   an OpenAI-compatible server, model ``m``
``"fake"`` / ``"scripted"``          ``ScriptedGenerator`` (no model)
``"toy"``                            ``ToyLanguageModel`` (a bigram table, no model)
===================================  =====================================================

Loaded models are cached per process (same spec and options, same instance).

>>> g = load_generator("toy")
>>> g.complete("the", strategy="beam", num_beams=2).text
' dog barked'
>>> load_generator("fake").complete("Hello").text
'This is a scripted reply.'
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ponder.config import load_settings
from ponder.errors import ConfigError, ModelNotFoundError
from ponder.llm.base import Completion, Generator, Message, StreamInfo, Token, TokenStream
from ponder.llm.config import GenerationConfig
from ponder.llm.explain import DecodingTrace

_CACHE: dict[tuple[str, tuple[tuple[str, Any], ...]], Generator] = {}
_CACHE_LOCK = threading.Lock()
DEFAULT_MODEL = "smollm2"


def load_generator(spec: str | None = None, **kwargs: Any) -> Generator:
    """Return a generator for ``spec`` (see the module docstring); ``kwargs`` go to the
    backend's constructor (e.g. ``n_ctx=2048``, ``n_threads=2``, ``api_key_env="MY_KEY"``).

    Missing files and unknown specs raise ``ModelNotFoundError`` / ``ConfigError`` saying
    what to pass instead. Models load lazily, on first use.
    """
    if spec is None:
        spec = load_settings().model or DEFAULT_MODEL
    spec = spec.strip()
    fresh = kwargs.pop("fresh", False)
    key = (spec, tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())))
    cacheable = spec.lower() not in ("fake", "scripted", "toy")
    with _CACHE_LOCK:
        if cacheable and not fresh and key in _CACHE:
            return _CACHE[key]
        gen = _build(spec, **kwargs)
        if cacheable:
            _CACHE[key] = gen
        return gen


def _hashable(v: Any) -> Any:
    try:
        hash(v)
        return v
    except TypeError:
        return repr(v)


def _build(spec: str, **kwargs: Any) -> Generator:
    low = spec.lower()
    if low in ("fake", "scripted"):
        from ponder.llm.fake import ScriptedGenerator

        return ScriptedGenerator(**kwargs)
    if low == "toy":
        from ponder.llm.fake import ToyLanguageModel

        return ToyLanguageModel(**kwargs)
    if low in ("smollm2", "default", "smollm2-135m"):
        from ponder.llm.llamacpp import LlamaCppGenerator, default_model_path

        return LlamaCppGenerator(default_model_path(), model_id="smollm2-135m-instruct-q4_1",
                                 **kwargs)
    if low.startswith("openai:"):
        from ponder.llm.openai_compat import OpenAICompatGenerator

        return OpenAICompatGenerator.from_spec(spec, **kwargs)
    path = Path(spec).expanduser()
    if low.endswith(".gguf"):
        from ponder.llm.llamacpp import LlamaCppGenerator

        if not path.is_file():
            raise ModelNotFoundError(
                f"model file {spec} not found: check the path, or use --model smollm2 for the "
                "embedded default"
            )
        return LlamaCppGenerator(path, **kwargs)
    if path.is_dir():
        if (path / "config.json").is_file():
            from ponder.llm.transformers_backend import TransformersGenerator

            return TransformersGenerator(path, **kwargs)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            from ponder.llm.llamacpp import LlamaCppGenerator

            return LlamaCppGenerator(ggufs[0], **kwargs)
        raise ModelNotFoundError(
            f"{spec} is a folder without config.json (a Hugging Face model) or a single .gguf: "
            "point --model at the model folder or the .gguf file"
        )
    if path.suffix or "/" in spec or "\\" in spec:
        raise ModelNotFoundError(
            f"model {spec} not found: give an existing .gguf file or Hugging Face model folder, "
            "'smollm2' for the embedded default, or openai:http://host:port/v1#model"
        )
    raise ConfigError(
        f"unknown model {spec!r}: use 'smollm2' (default), a path to a .gguf file or a Hugging "
        "Face folder, 'openai:http://host:port/v1#model', or 'fake'/'toy' for tests"
    )


def clear_cache() -> None:
    """Forget the cached generators (their models are freed when unreferenced)."""
    with _CACHE_LOCK:
        for g in _CACHE.values():
            g.close()
        _CACHE.clear()


__all__ = [
    "Completion",
    "DecodingTrace",
    "GenerationConfig",
    "Generator",
    "Message",
    "StreamInfo",
    "Token",
    "TokenStream",
    "clear_cache",
    "load_generator",
]
