"""``smollm2-hidden``: SmolLM2-135M's mean hidden state after layer 15, the features of the
shipped sentiment head: the right shape, the same vector alone or padded in a batch, cheap
to construct, and known to ``load_embedder`` and to the head that was trained on it."""

from __future__ import annotations

import numpy as np
import pytest

from ponder.embed import load_embedder
from ponder.embed.llm_hidden import LAYER, LLMHiddenStates
from ponder.errors import ConfigError
from ponder.tasks.head import shipped_head
from ponder.testing.contracts import EmbedderContract

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def emb() -> LLMHiddenStates:
    e = load_embedder("smollm2-hidden")
    assert isinstance(e, LLMHiddenStates)
    return e


class TestContract(EmbedderContract):
    atol = 1e-4  # right padding changes float rounding a little

    @pytest.fixture(scope="class")
    def embedder(self) -> LLMHiddenStates:
        return load_embedder("smollm2-hidden")  # type: ignore[return-value]


def test_shape_and_batch_independence(emb: LLMHiddenStates) -> None:
    texts = ["The food was cold.", "What a wonderful evening, the staff were lovely and kind!"]
    both = emb.embed(texts)
    alone = emb.embed(texts[:1])
    assert both.shape == (2, 576) and both.dtype == np.float32
    assert np.isfinite(both).all()
    np.testing.assert_allclose(both[0], alone[0], rtol=1e-4, atol=1e-4)  # right padding
    assert not np.allclose(both[0], both[1])


def test_the_shipped_sentiment_head_uses_it() -> None:
    head = shipped_head("sentiment")
    assert head.embedder_id == LLMHiddenStates().model_id
    assert isinstance(head.embedder(), LLMHiddenStates) and head.dim == 576


def test_only_layers_that_exist() -> None:
    with pytest.raises(ConfigError, match="layers 1 to 30"):
        LLMHiddenStates(layer=31)
    assert LLMHiddenStates(layer=10).name == ""  # only the default layer has a name


def test_plain_torch_blocks_match_transformers(emb: LLMHiddenStates) -> None:
    """The blocks run in plain torch; transformers' LlamaModel on the same truncated copy
    gives the same features."""
    import torch
    from transformers.models.llama.modeling_llama import LlamaModel

    from ponder.embed import llm_hidden

    texts = ["The food was cold and the waiter ignored us.", "ok", "What a lovely evening!"]
    ours = emb.embed(texts)
    folder = llm_hidden.default_cache_folder(emb.layer)
    ref = LlamaModel.from_pretrained(str(folder), dtype=torch.float32)
    ref.norm = torch.nn.Identity()
    _, tok = emb._model()
    for text, row in zip(texts, ours, strict=True):
        ids = torch.tensor([tok.encode(text).ids])
        with torch.inference_mode():
            want = ref(input_ids=ids).last_hidden_state[0].mean(0).numpy()
        np.testing.assert_allclose(row, want, rtol=1e-4, atol=1e-3 * np.abs(want).max())


def test_first_use_writes_the_truncated_copy(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On a machine without the cached copy, the first embed converts the shipped GGUF
    (transformers) and keeps the first 15 blocks; the features are the same."""
    from ponder.embed import llm_hidden

    monkeypatch.setenv("PONDER_MODEL_CACHE", str(tmp_path))
    monkeypatch.setattr(llm_hidden, "_LOADED", {})
    fresh = LLMHiddenStates().embed(["The food was cold."])
    folder = llm_hidden.default_cache_folder(LAYER)
    assert folder.parent == tmp_path and (folder / "model.safetensors").is_file()
    monkeypatch.undo()
    again = load_embedder("smollm2-hidden").embed(["The food was cold."])
    np.testing.assert_allclose(fresh, again, rtol=1e-5, atol=1e-3)
