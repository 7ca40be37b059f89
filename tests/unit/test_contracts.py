"""Every built-in backend that needs no model runs through the contract suites users get from
``ponder.testing.contracts`` (the model-backed ones run in tests/integration/)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ponder.embed.fake import HashEmbedder
from ponder.llm.fake import ScriptedGenerator, ToyLanguageModel
from ponder.server.batching import LockedEmbedder
from ponder.testing.contracts import EmbedderContract, GeneratorContract


class TestHashEmbedder(EmbedderContract):
    @pytest.fixture(params=[16, 64])
    def embedder(self, request: pytest.FixtureRequest) -> HashEmbedder:
        return HashEmbedder(dim=request.param)


class TestLockedEmbedder(EmbedderContract):
    """The server's wrapper must keep every promise of the embedder it wraps."""

    @pytest.fixture
    def embedder(self) -> LockedEmbedder:
        return LockedEmbedder(HashEmbedder(dim=32))


class TestScriptedGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self) -> ScriptedGenerator:
        return ScriptedGenerator()


class TestToyLanguageModel(GeneratorContract):
    prompt = "the"
    continuations = (" cat", " dog")

    @pytest.fixture
    def generator(self) -> ToyLanguageModel:
        return ToyLanguageModel()


def test_the_suites_catch_a_broken_embedder() -> None:
    """A contract that cannot fail is worth nothing: one that returns rows in the wrong order
    fails the batching check."""

    class Reversed(HashEmbedder):
        def embed_batch(self, texts):  # type: ignore[no-untyped-def]
            return super().embed_batch(list(reversed(texts)))

    with pytest.raises(AssertionError):
        EmbedderContract().test_batches_keep_input_order_and_match_single_texts(Reversed())


def test_the_suites_catch_a_generator_that_ignores_its_stop_strings() -> None:
    class Deaf(ScriptedGenerator):
        def generate(self, prompt, config=None, **kw):  # type: ignore[no-untyped-def]
            kw.pop("stop", None)
            return super().generate(prompt, config, **kw)

    with pytest.raises(AssertionError):
        GeneratorContract().test_a_stop_string_ends_the_text_before_it(Deaf())


def test_importing_ponder_testing_does_not_import_pytest() -> None:
    code = "import ponder, ponder.testing, sys; print('pytest' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
