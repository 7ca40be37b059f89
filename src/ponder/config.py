"""Settings: explicit arguments, then environment variables, then ``ponder.toml``, then defaults.

Environment variables override the file so that one command can change a setting without
editing it (12-factor style); ``ponder.toml`` is read from the working directory, or from the
path in ``PONDER_CONFIG``. Secrets are never stored: settings name the environment variable that
holds them (``api_key_env``).

=====================  =====================  ==========================================
setting                env var                default
=====================  =====================  ==========================================
home                   PONDER_HOME            ``$XDG_DATA_HOME/ponder`` (~/.local/share)
embedder               PONDER_EMBEDDER        ``minilm`` (the fastest measured backend)
model                  PONDER_MODEL           ``smollm2`` (the embedded GGUF)
chunk_tokens           PONDER_CHUNK_TOKENS    200
chunk_overlap          PONDER_CHUNK_OVERLAP   32
threads                PONDER_THREADS         the number of CPU cores
=====================  =====================  ==========================================
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError

_ENV = {
    "home": "PONDER_HOME",
    "embedder": "PONDER_EMBEDDER",
    "model": "PONDER_MODEL",
    "chunk_tokens": "PONDER_CHUNK_TOKENS",
    "chunk_overlap": "PONDER_CHUNK_OVERLAP",
    "threads": "PONDER_THREADS",
}


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "ponder")


@dataclass(frozen=True)
class Settings:
    home: str = ""
    embedder: str = "minilm"
    model: str = "smollm2"
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    threads: int = 0

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()


def _read_toml() -> dict[str, Any]:
    path = Path(os.environ.get("PONDER_CONFIG", "ponder.toml"))
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read settings ({e}); fix or remove the file") from e
    section = data.get("ponder", data)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {unknown}; known: {sorted(known)}")
    return dict(section)


def load_settings(**overrides: Any) -> Settings:
    """Resolve settings; ``overrides`` whose value is ``None`` are ignored.

    >>> load_settings(chunk_tokens=128).chunk_tokens
    128
    """
    values: dict[str, Any] = _read_toml()
    for name, env in _ENV.items():
        if os.environ.get(env):
            values[name] = os.environ[env]
    values.update({k: v for k, v in overrides.items() if v is not None})
    out: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in values:
            continue
        raw = values[f.name]
        if f.type in ("int", int):
            try:
                out[f.name] = int(raw)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"setting {f.name}={raw!r} is not an integer (env {_ENV[f.name]})"
                ) from None
        else:
            out[f.name] = str(raw)
    s = Settings(**out)
    if not s.home:
        s = Settings(**{**out, "home": _default_home()})
    if s.threads <= 0:
        s = Settings(**{**s.__dict__, "threads": os.cpu_count() or 1})
    if s.chunk_tokens < 16 or not 0 <= s.chunk_overlap < s.chunk_tokens:
        raise ConfigError(
            f"chunk_tokens={s.chunk_tokens}, chunk_overlap={s.chunk_overlap}: need "
            "chunk_tokens >= 16 and 0 <= chunk_overlap < chunk_tokens"
        )
    return s
