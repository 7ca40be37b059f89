"""Contract test suites for your own backends: subclass one in a test module, give it a fixture.

Each suite checks what every backend of an extension point must do, whatever its model: the
shapes, types and capabilities it declares, determinism, and that the base class's promises
(stop strings, one generation at a time, exact search for exact indexes, ...) still hold.
Ponder runs every built-in backend through them.

=======================  ======================  ==============================================
suite                    fixture to provide      checks
=======================  ======================  ==============================================
``EmbedderContract``     ``embedder``            identity, shapes and dtype, batching keeps
                                                 input order, determinism, unit length when
                                                 declared, tokenizer spans, long inputs
``GeneratorContract``    ``generator``           streaming adds up to the completion, greedy
                                                 determinism, seeds, ``max_new_tokens``, stop
                                                 strings, one generation at a time, logprobs
                                                 and beam search as declared, tokenizer
``VectorIndexContract``  ``index`` (empty)       brute-force agreement (exact) or recall
                                                 (approximate), ``allowed`` sets, removal,
                                                 padding with ``-1``, save/load, bad files
=======================  ======================  ==============================================

Class attributes tune a suite to the backend (a prompt its vocabulary knows, a recall target).
This module imports pytest; ``import ponder`` and ``ponder.testing`` do not import it.

Example, in your ``tests/test_my_embedder.py``::

    import pytest
    from ponder.testing.contracts import EmbedderContract

    class TestMyEmbedder(EmbedderContract):
        @pytest.fixture
        def embedder(self):
            return MyEmbedder()
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from ponder.embed.base import Embedder
from ponder.errors import (
    BackendUnavailableError,
    ConfigError,
    GenerationError,
    VectorIndexError,
)
from ponder.llm.base import Generator, Message, Token

if TYPE_CHECKING:
    from ponder.store.indexes.base import VectorIndex


class EmbedderContract:
    """What every ``Embedder`` does. Provide a fixture ``embedder`` returning an instance.

    ``texts``: two related texts then an unrelated one; ``similar_texts_are_closer`` checks
    that the first two are closer (set ``check_similarity = False`` for an embedder without
    meaning, such as random vectors). ``min_batch_cosine``: how close a text's vector in a
    batch of others must stay to its vector alone (padding changes rounding in some runtimes;
    dynamic int8 quantisation scales activations per batch and moves vectors further).
    """

    texts: Sequence[str] = (
        "The cat sat on the warm mat.",
        "A cat was sitting on the mat.",
        "Stock markets fell sharply after the announcement of new tariffs on imports.",
    )
    check_similarity: bool = True
    min_batch_cosine: float = 0.9999
    atol: float = 1e-5
    norm_atol: float = 1e-3

    def test_declares_its_identity(self, embedder: Embedder) -> None:
        assert isinstance(embedder, Embedder)
        assert isinstance(embedder.model_id, str) and embedder.model_id, "model_id is empty"
        assert isinstance(embedder.name, str)
        assert isinstance(embedder.dim, int) and embedder.dim > 0, "dim must be positive"
        assert embedder.batch_size >= 1 and embedder.max_tokens >= 1

    def test_embed_batch_gives_one_finite_float32_row_per_text(self, embedder: Embedder) -> None:
        out = np.asarray(embedder.embed_batch(list(self.texts)))
        assert out.shape == (len(self.texts), embedder.dim)
        assert out.dtype == np.float32
        assert np.isfinite(out).all()

    def test_no_text_gives_an_empty_matrix(self, embedder: Embedder) -> None:
        assert embedder.embed([]).shape == (0, embedder.dim)

    def test_batches_keep_input_order_and_match_single_texts(self, embedder: Embedder) -> None:
        texts = [*self.texts, "short", self.texts[1], "", self.texts[0]]
        seen: list[int] = []
        together = embedder.embed(texts, progress=seen.append)
        assert sum(seen) == len(texts)
        alone = np.vstack([embedder.embed([t]) for t in texts])
        assert together.shape == alone.shape == (len(texts), embedder.dim)
        norms = np.linalg.norm(together, axis=1) * np.linalg.norm(alone, axis=1)
        cosine = np.sum(together * alone, axis=1) / np.where(norms == 0, 1.0, norms)
        assert cosine.min() >= self.min_batch_cosine, f"row cosines batch vs alone: {cosine}"

    def test_is_deterministic(self, embedder: Embedder) -> None:
        np.testing.assert_array_equal(embedder.embed(self.texts), embedder.embed(self.texts))

    def test_query_embedding_is_one_vector(self, embedder: Embedder) -> None:
        q = embedder.embed_query(self.texts[0])
        assert q.shape == (embedder.dim,) and q.dtype == np.float32
        direct = np.asarray(embedder.embed_batch([embedder.query_prefix + self.texts[0]]))[0]
        np.testing.assert_allclose(q, direct, atol=self.atol)

    def test_unit_length_when_declared_normalized(self, embedder: Embedder) -> None:
        norms = np.linalg.norm(embedder.embed(self.texts), axis=1)
        if embedder.normalized:
            np.testing.assert_allclose(norms, 1.0, atol=self.norm_atol)
        else:
            assert (norms > 0).all()

    def test_similar_texts_are_closer(self, embedder: Embedder) -> None:
        if not self.check_similarity:
            pytest.skip("check_similarity = False for this embedder")
        a, b, c = (v / np.linalg.norm(v) for v in embedder.embed(self.texts[:3]))
        assert float(a @ b) > float(a @ c)

    def test_tokenizer_spans_lie_in_the_text_in_order(self, embedder: Embedder) -> None:
        text = self.texts[2]
        spans = embedder.tokenize(text)
        assert spans, "a non-empty text has tokens"
        assert all(0 <= s < e <= len(text) for s, e in spans)
        assert [s for s, _ in spans] == sorted(s for s, _ in spans)
        assert embedder.count_tokens(text) == len(spans)
        try:
            ids = embedder.token_ids(text)
        except NotImplementedError:
            return
        assert len(ids) == len(spans) and all(isinstance(i, int) for i in ids)

    def test_text_longer_than_max_tokens_is_embedded(self, embedder: Embedder) -> None:
        words = min(embedder.max_tokens + 64, 20_000)
        out = embedder.embed([" ".join(["word"] * words)])
        assert out.shape == (1, embedder.dim) and np.isfinite(out).all()


class GeneratorContract:
    """What every ``Generator`` does. Provide a fixture ``generator`` returning an instance.

    ``prompt`` must be something the model can continue for a few tokens (a tiny test model
    may need words from its vocabulary; ``raw = True`` sends it without the chat template).
    ``continuations`` are scored when the generator ``supports_logprobs``.
    """

    prompt: str = "What is the capital of France?"
    raw: bool = False
    max_new_tokens: int = 8
    continuations: Sequence[str] = (" Paris", " Berlin")

    def _complete(self, g: Generator, **options: Any) -> Any:
        options.setdefault("max_new_tokens", self.max_new_tokens)
        return g.complete(self.prompt, raw=self.raw, **options)

    def test_declares_its_capabilities(self, generator: Generator) -> None:
        assert isinstance(generator, Generator)
        assert isinstance(generator.model_id, str) and generator.model_id, "model_id is empty"
        assert isinstance(generator.context_window, int) and generator.context_window >= 0
        for flag in ("supports_logprobs", "supports_beam", "supports_explain",
                     "supports_grammar", "has_chat_template"):
            assert isinstance(getattr(generator, flag), bool), flag

    def test_streamed_tokens_add_up_to_the_completion(self, generator: Generator) -> None:
        stream = generator.generate(self.prompt, raw=self.raw, max_new_tokens=self.max_new_tokens)
        tokens = list(stream)
        assert all(isinstance(t, Token) and isinstance(t.text, str) for t in tokens)
        c = stream.completion()
        assert c.text == "".join(t.text for t in tokens)
        assert c.completion_tokens == len(tokens) <= self.max_new_tokens
        assert c.finish_reason in ("stop", "length")
        if c.finish_reason == "length":
            assert c.completion_tokens == self.max_new_tokens
        assert c.prompt_tokens >= 0

    def test_greedy_is_deterministic(self, generator: Generator) -> None:
        a, b = self._complete(generator), self._complete(generator)
        assert a.text == b.text
        assert [t.id for t in a.tokens] == [t.id for t in b.tokens]

    def test_same_seed_same_sample(self, generator: Generator) -> None:
        opts = {"strategy": "sample", "temperature": 1.0, "seed": 7}
        assert self._complete(generator, **opts).text == self._complete(generator, **opts).text

    def test_max_new_tokens_is_respected(self, generator: Generator) -> None:
        c = self._complete(generator, max_new_tokens=1)
        assert c.completion_tokens <= 1

    def test_a_stop_string_ends_the_text_before_it(self, generator: Generator) -> None:
        full = self._complete(generator)
        stop = next((t.text for t in full.tokens[1:] if t.text.strip()), None)
        if stop is None:
            pytest.skip(f"the greedy reply {full.text!r} has no second token to stop at")
        c = self._complete(generator, stop=[stop])
        assert c.text == full.text[: full.text.find(stop)]
        assert c.finish_reason == "stop"

    def test_one_generation_at_a_time_per_thread(self, generator: Generator) -> None:
        stream = generator.generate(self.prompt, raw=self.raw, max_new_tokens=self.max_new_tokens)
        try:
            with pytest.raises(GenerationError, match="still busy"):
                generator.generate(self.prompt, raw=self.raw, max_new_tokens=1)
        finally:
            stream.close()
        assert self._complete(generator, max_new_tokens=1).completion_tokens <= 1

    def test_bad_options_are_config_errors_before_any_work(self, generator: Generator) -> None:
        with pytest.raises(ConfigError, match="max_new_tokens"):
            generator.generate(self.prompt, raw=self.raw, max_new_tokens=0)
        with pytest.raises(ConfigError, match="temperature"):
            generator.generate(self.prompt, raw=self.raw, temperature=-1.0)
        with pytest.raises(ConfigError, match="at least one user message"):
            generator.generate([])

    def test_logprobs_as_declared(self, generator: Generator) -> None:
        conts = list(self.continuations)
        if not generator.supports_logprobs:
            with pytest.raises(ConfigError):
                generator.logprobs(self.prompt, conts, raw=self.raw)
            return
        scores = generator.logprobs(self.prompt, conts, raw=self.raw)
        assert len(scores) == len(conts)
        assert all(isinstance(s, float) and np.isfinite(s) and s <= 1e-6 for s in scores)

    def test_beam_search_as_declared(self, generator: Generator) -> None:
        if not generator.supports_beam:
            with pytest.raises(ConfigError, match="beam"):
                self._complete(generator, strategy="beam", num_beams=2)
            return
        c = self._complete(generator, strategy="beam", num_beams=2)
        assert c.text == "".join(t.text for t in c.tokens)
        assert c.completion_tokens <= self.max_new_tokens
        assert c.finish_reason in ("stop", "length")

    def test_tokenizer_agrees_with_count_tokens(self, generator: Generator) -> None:
        try:
            toks = generator.tokenize(self.prompt)
        except BackendUnavailableError:
            with pytest.raises(BackendUnavailableError):
                generator.count_tokens(self.prompt)
            return
        assert toks and all(isinstance(i, int) and isinstance(t, str) for i, t in toks)
        assert generator.count_tokens(self.prompt) == len(toks)

    def test_messages_render_with_their_content(self, generator: Generator) -> None:
        msgs = generator.prepare_prompt(self.prompt)
        if generator.has_chat_template:
            assert isinstance(msgs, list) and all(isinstance(m, Message) for m in msgs)
            assert self.prompt in generator.render_messages(msgs)
        else:
            assert msgs == self.prompt


class VectorIndexContract:
    """What every ``VectorIndex`` does. Provide a fixture ``index`` returning a new, empty index
    (parametrize the fixture to cover several metrics or settings).

    Data are ``n`` clustered vectors whose pks are their row numbers. An exact index must
    return what brute force returns; an approximate one must reach ``recall_target`` (mean
    recall@10 against brute force) once ``maybe_train`` has run.
    """

    n: int = 600
    k: int = 10
    recall_target: float = 0.9
    seed: int = 0

    def data(self, index: VectorIndex, n: int | None = None, seed: int | None = None
             ) -> np.ndarray:
        rng = np.random.default_rng(self.seed if seed is None else seed)
        centres = rng.normal(size=(12, index.dim))
        rows = centres[rng.integers(0, len(centres), n or self.n)]
        return (rows + 0.35 * rng.normal(size=rows.shape)).astype(np.float32)

    def filled(self, index: VectorIndex) -> tuple[VectorIndex, np.ndarray]:
        x = self.data(index)
        index.vector_source = lambda pks: x[pks]
        index.add(np.arange(len(x)), x)
        index.maybe_train()
        return index, x

    @staticmethod
    def brute_force(index: VectorIndex, x: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Ponder scores (higher is better) of every row of ``x`` for each query."""
        if index.metric == "cosine":
            xn = x / np.linalg.norm(x, axis=1, keepdims=True)
            return (q / np.linalg.norm(q, axis=1, keepdims=True)) @ xn.T
        if index.metric == "dot":
            return q @ x.T
        if index.metric == "l2":
            return -np.linalg.norm(x[None, :, :] - q[:, None, :], axis=2)
        return -np.abs(x[None, :, :] - q[:, None, :]).sum(axis=2)

    def test_declares_itself(self, index: VectorIndex) -> None:
        assert index.kind and index.metric in index.metrics
        d = index.describe()
        assert d["kind"] == index.kind and d["metric"] == index.metric

    def test_refuses_metrics_it_does_not_support(self, index: VectorIndex) -> None:
        from ponder.store.indexes.base import METRICS

        for metric in set(METRICS) - set(index.metrics):
            with pytest.raises(ConfigError, match="does not support metric"):
                type(index)(index.dim, metric, **index.params)

    def test_empty_index_pads_with_minus_one(self, index: VectorIndex) -> None:
        assert len(index) == 0 and len(index.pks()) == 0
        scores, pks = index.search(self.data(index, 2, seed=1), 3)
        assert pks.shape == scores.shape == (2, 3) and (pks == -1).all()

    def test_fewer_vectors_than_k_pads_with_minus_one(self, index: VectorIndex) -> None:
        x = self.data(index, 3)
        index.add(np.array([10, 20, 30]), x)
        _, pks = index.search(x[:1], 5)
        assert sorted(pks[0, :3].tolist()) == [10, 20, 30] and (pks[0, 3:] == -1).all()

    def test_holds_what_was_added(self, index: VectorIndex) -> None:
        index, x = self.filled(index)
        assert len(index) == len(x)
        np.testing.assert_array_equal(index.pks(), np.arange(len(x)))

    def test_search_agrees_with_brute_force(self, index: VectorIndex) -> None:
        index, x = self.filled(index)
        q = self.data(index, 20, seed=self.seed + 1)
        scores, pks = index.search(q, self.k)
        assert pks.shape == scores.shape == (len(q), self.k)
        assert (pks >= 0).all(), "k rows exist, so none may be -1"
        assert all(len(set(row)) == self.k for row in pks.tolist()), "a pk came back twice"
        assert (np.diff(scores, axis=1) <= 1e-5).all(), "scores must be sorted, best first"
        truth = self.brute_force(index, x, q)
        best = -np.sort(-truth, axis=1)[:, : self.k]
        if index.exact:
            np.testing.assert_allclose(scores, best, rtol=1e-4, atol=1e-4)
        else:
            top = np.argsort(-truth, axis=1)[:, : self.k]
            recall = np.mean([len(set(a) & set(b)) / self.k for a, b in zip(pks, top, strict=True)])
            assert recall >= self.recall_target, f"recall@{self.k} {recall:.3f}"

    def test_allowed_pks_are_the_only_ones_returned(self, index: VectorIndex) -> None:
        index, x = self.filled(index)
        allowed = np.arange(0, len(x), 3)
        q = self.data(index, 5, seed=self.seed + 2)
        _, pks = index.search(q, self.k, allowed=allowed)
        got = pks[pks >= 0]
        assert len(got) and set(got.tolist()) <= set(allowed.tolist())
        if index.exact:
            truth = self.brute_force(index, x[allowed], q)
            want = allowed[np.argsort(-truth, axis=1)[:, : self.k]]
            assert [set(r) for r in pks.tolist()] == [set(r) for r in want.tolist()]

    def test_removed_pks_never_come_back(self, index: VectorIndex) -> None:
        index, x = self.filled(index)
        gone = np.arange(50)
        index.remove(np.concatenate([gone, [10**9]]))  # an unknown pk is ignored
        assert len(index) == len(x) - len(gone)
        assert not set(index.pks().tolist()) & set(gone.tolist())
        _, pks = index.search(x[:20], self.k)
        assert not set(pks.ravel().tolist()) & set(gone.tolist())

    def test_save_and_load_round_trip(self, index: VectorIndex, tmp_path: Path) -> None:
        index, _ = self.filled(index)
        path = tmp_path / "index.bin"
        index.save(path)
        back = type(index).load(path, index.dim, index.metric, **index.params)
        back.vector_source = index.vector_source
        np.testing.assert_array_equal(back.pks(), index.pks())
        q = self.data(index, 5, seed=self.seed + 3)
        s1, p1 = index.search(q, self.k)
        s2, p2 = back.search(q, self.k)
        np.testing.assert_array_equal(p1, p2)
        np.testing.assert_allclose(s1, s2, atol=1e-5)

    def test_a_file_that_is_not_an_index_is_a_vector_index_error(
        self, index: VectorIndex, tmp_path: Path
    ) -> None:
        path = tmp_path / "garbage.bin"
        path.write_bytes(b"not an index file")
        with pytest.raises(VectorIndexError):
            type(index).load(path, index.dim, index.metric, **index.params)

    def test_reconstruct_gives_the_stored_vectors_when_it_keeps_them(
        self, index: VectorIndex
    ) -> None:
        index, x = self.filled(index)
        got = index.reconstruct(np.array([3, 7]))
        if index.keeps_vectors():
            assert got is not None
            np.testing.assert_allclose(got, index.prepare(x[[3, 7]]), atol=1e-5)
        else:
            assert got is None or got.shape == (2, index.dim)


__all__ = ["EmbedderContract", "GeneratorContract", "VectorIndexContract"]
