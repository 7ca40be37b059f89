"""The MiniLM tokenizer front end: counts, spans and ids without loading the network."""

from __future__ import annotations

import itertools

import pytest

from ponder.embed import HashEmbedder, load_embedder
from ponder.embed.minilm import CLS_ID, SEP_ID, MiniLMEmbedder


@pytest.fixture(scope="module")
def e() -> MiniLMEmbedder:
    emb = load_embedder("minilm-onnx", threads=1)
    assert isinstance(emb, MiniLMEmbedder)
    return emb


def pieces(e: MiniLMEmbedder, text: str) -> list[str]:
    return [text[s:t] for s, t in e.tokenize(text)]


def test_word_pieces_and_spans(e: MiniLMEmbedder) -> None:
    text = "Tokenizers split unbelievable words."
    spans = e.tokenize(text)
    # "##" continuation pieces map to the characters they cover
    assert pieces(e, text) == ["Token", "izer", "s", "split", "unbelievable", "words", "."]
    # spans are ordered, inside the text, and never overlap
    assert all(0 <= s < t <= len(text) for s, t in spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    # a word split into pieces: the pieces' spans tile the word
    word = "embeddings"
    assert pieces(e, word) == ["em", "bed", "ding", "s"]
    assert e.token_ids(word) == e.token_ids("EMBEDDINGS")  # the model is uncased


def test_counts_ids_and_spans_agree(e: MiniLMEmbedder) -> None:
    for text in ["", "   ", "a", "Hello, world!", "naïve café — déjà vu", "東京タワー 😀 ok"]:
        n = e.count_tokens(text)
        assert n == len(e.tokenize(text)) == len(e.token_ids(text))
    assert e.count_tokens("") == 0


def test_special_tokens_are_excluded(e: MiniLMEmbedder) -> None:
    ids = e.token_ids("hello world")
    assert CLS_ID not in ids and SEP_ID not in ids
    assert e.encode_inputs(["hello world"]) == [[CLS_ID, *ids, SEP_ID]]


def test_accents_and_case_map_back_to_the_original_text(e: MiniLMEmbedder) -> None:
    text = "Café Déjà"
    assert pieces(e, text)[0] == "Café"
    assert e.token_ids("Café") == e.token_ids("cafe")  # accents are stripped, case folded


def test_cjk_characters_are_single_tokens(e: MiniLMEmbedder) -> None:
    text = "東京"
    assert e.tokenize(text) == [(0, 1), (1, 2)]


def test_unknown_characters_still_get_a_span(e: MiniLMEmbedder) -> None:
    text = "ok 🦜 ok"
    assert pieces(e, text) == ["ok", "🦜", "ok"]
    assert e.token_ids(text)[1] == 100  # [UNK]


def test_counting_does_not_truncate_but_inputs_do(e: MiniLMEmbedder) -> None:
    text = "alpha " * 1000
    assert e.count_tokens(text) == 1000
    (inputs,) = e.encode_inputs([text])
    assert len(inputs) == e.max_tokens == 256
    assert inputs[0] == CLS_ID and inputs[-1] == SEP_ID


def test_tokenizing_does_not_load_the_model(e: MiniLMEmbedder) -> None:
    e.count_tokens("x")
    e.tokenize("x")
    e.token_ids("x")
    assert e._loaded is False


def test_hash_embedder_ids_follow_its_spans() -> None:
    h = HashEmbedder()
    text = "The cat, the CAT."
    ids = h.token_ids(text)
    assert len(ids) == len(h.tokenize(text)) == h.count_tokens(text) == 4
    assert ids[0] == ids[2] and ids[1] == ids[3]
    assert ids[0] != ids[1]
