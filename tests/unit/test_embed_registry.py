"""load_embedder names and errors, the shared batching logic, and cheap construction."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import ponder.embed as embed
from ponder.embed import (
    Embedder,
    HashEmbedder,
    available_embedders,
    default_backend,
    known_embedders,
    load_embedder,
    minilm_openvino,
)
from ponder.embed.minilm import MiniLMEmbedder, l2_normalize, pad_batch
from ponder.embed.minilm_onnx import OnnxMiniLM
from ponder.embed.onnx_export import default_cache_dir, ensure_onnx, variant_path
from ponder.errors import BackendUnavailableError, ConfigError

MINILM = [n for n in known_embedders() if n.startswith("minilm-")]


def test_known_names() -> None:
    assert set(known_embedders()) == {
        "hash",
        "minilm",
        "minilm-torch",
        "minilm-onnx",
        "minilm-onnx-int8",
        "minilm-openvino",
        "minilm-openvino-bf16",
        "minilm-openvino-int8",
        "smollm2-hidden",
    }
    assert set(available_embedders()) <= set(known_embedders())
    assert {"hash", "minilm", "minilm-torch", "minilm-onnx"} <= set(available_embedders())


@pytest.mark.parametrize("name", MINILM)
def test_minilm_backends_construct_cheaply(name: str) -> None:
    e = load_embedder(name, threads=1)
    assert isinstance(e, MiniLMEmbedder)
    assert e.name == e.backend == name
    assert (e.dim, e.max_tokens, e.normalized) == (384, 256, True)
    # below the cosine bar (int8) means a model_id of its own
    shared = "int8" not in name
    assert (e.model_id == "all-MiniLM-L6-v2") is shared
    assert e.model_id.startswith("all-MiniLM-L6-v2")
    assert e.query_prefix == "" and e.passage_prefix == ""
    assert e._loaded is False  # nothing loaded until the first embed_batch
    assert e.threads == 1


def test_default_name_resolves_to_a_backend() -> None:
    e = load_embedder("minilm")
    assert isinstance(e, MiniLMEmbedder)
    assert e.backend == default_backend()
    assert e.name == "minilm"  # what a collection records: portable across machines
    assert load_embedder("  MiniLM ").backend == default_backend()
    explicit = load_embedder(default_backend())
    assert explicit.name == explicit.backend == default_backend()


def test_none_uses_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_EMBEDDER", "hash")
    assert isinstance(load_embedder(), HashEmbedder)
    monkeypatch.setenv("PONDER_EMBEDDER", "minilm-onnx")
    assert isinstance(load_embedder(), OnnxMiniLM)
    monkeypatch.delenv("PONDER_EMBEDDER")
    assert load_embedder().backend == default_backend()


def test_threads_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_THREADS", "3")
    assert load_embedder("minilm-onnx").threads == 3


def test_hash_takes_dim() -> None:
    e = load_embedder("hash", dim=32)
    assert isinstance(e, HashEmbedder) and isinstance(e, Embedder)
    assert e.dim == 32 and e.model_id == "hash-32"
    assert e.embed(["a"]).shape == (1, 32)


def test_unknown_name_lists_the_names() -> None:
    with pytest.raises(ConfigError) as err:
        load_embedder("bert-large")
    msg = str(err.value)
    assert "bert-large" in msg
    for name in known_embedders():
        assert repr(name) in msg


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="dim"):
        load_embedder("minilm-onnx", dim=64)
    with pytest.raises(ConfigError, match="threads"):
        load_embedder("hash", threads=2)


@pytest.mark.parametrize("kwargs", [{"threads": 0}, {"batch_size": 0}])
def test_bad_numbers_are_config_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        load_embedder("minilm-onnx", **kwargs)


def test_default_falls_back_without_openvino(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def no_openvino(name: str, *args: object) -> object:
        return None if name == "openvino" else real(name, *args)

    monkeypatch.setattr(embed.importlib.util, "find_spec", no_openvino)
    assert default_backend() == "minilm-onnx"
    assert not any("openvino" in n for n in available_embedders())


def test_missing_openvino_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    minilm_openvino._core.cache_clear()
    try:
        e = load_embedder("minilm-openvino", cache_dir=tmp_path)
        with pytest.raises(BackendUnavailableError, match="pip install openvino"):
            e.embed(["hello"])
        assert list(tmp_path.iterdir()) == []  # failed before exporting anything
    finally:
        minilm_openvino._core.cache_clear()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PONDER_MODEL_CACHE", str(tmp_path / "m"))
    assert default_cache_dir() == tmp_path / "m"
    monkeypatch.delenv("PONDER_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "ponder" / "models"


def test_variant_names() -> None:
    names = {variant_path(default_cache_dir(), v).name for v in ("fp32", "int8-dynamic")}
    assert len(names) == 2
    with pytest.raises(ConfigError, match="int4"):
        ensure_onnx("int4")


def test_pad_batch_and_normalize() -> None:
    ids, mask = pad_batch([[101, 5, 6, 102], [101, 102]])
    assert ids.dtype == np.int64 and ids.shape == (2, 4)
    assert mask.sum(axis=1).tolist() == [4, 2]
    assert pad_batch([[1] * 17], multiple=16)[0].shape == (1, 32)
    v = l2_normalize(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), [1.0, 0.0])


class _Recorder(MiniLMEmbedder):
    """A MiniLM front end over a fake network: records the batches it is given."""

    backend = "recorder"

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.batches: list[tuple[int, int]] = []  # (rows, padded width)
        self.loads = 0

    def _load(self) -> None:
        self.loads += 1

    def _run(self, texts: list[str], ids: list[list[int]]) -> np.ndarray:
        input_ids, _ = pad_batch(ids, self.pad_multiple)
        self.batches.append(input_ids.shape)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for r, row in enumerate(ids):
            out[r, len(row) % self.dim] = 2.0  # one-hot on the input length
        return out


def test_embed_sorts_by_length_and_keeps_input_order() -> None:
    texts = ["word " * n for n in (3, 40, 1, 25, 7, 12, 0, 30)]
    e = _Recorder(batch_size=3, threads=1)
    seen: list[int] = []
    vecs = e.embed(texts, progress=seen.append)
    assert e.loads == 1 and seen == [3, 3, 2]
    # rows come back in input order, normalised: row i is one-hot on len(text i)+2
    expected = [min(n, 254) + 2 for n in (3, 40, 1, 25, 7, 12, 0, 30)]
    assert vecs.argmax(axis=1).tolist() == expected
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    # longest first: each batch is padded only to its own longest member
    assert [w for _, w in e.batches] == [42, 14, 3]
    e.batches.clear()
    e.sort_by_length = False
    e.embed(texts)
    assert [w for _, w in e.batches] == [42, 27, 32]


def test_sorting_windows_keep_the_order() -> None:
    texts = ["word " * (n % 13) for n in range(50)]
    e = _Recorder(batch_size=4, threads=1)
    whole = e.embed(texts)
    e.sort_window = 7
    seen: list[int] = []
    assert np.array_equal(e.embed(texts, progress=seen.append), whole)
    assert sum(seen) == 50 and max(seen) == 4


def test_embed_batch_and_query_share_the_path() -> None:
    e = _Recorder(threads=1)
    assert e.embed_batch([]).shape == (0, 384)
    assert e.embed([]).shape == (0, 384)
    assert e.loads == 0  # nothing to embed, nothing loaded
    q = e.embed_query("word word")
    assert q.shape == (384,) and int(q.argmax()) == 4
    assert e.embed_batch(["word " * 600])[0].argmax() == 256 % 384  # truncated to 256
