"""Citation renumbering, invalid-number removal and sentence support."""

from __future__ import annotations

import numpy as np
import pytest

from ponder.embed.base import Embedder
from ponder.rag.citations import (
    SUPPORT_THRESHOLD,
    CitationMapper,
    check_support,
    cited_numbers,
    is_refusal,
    support_score,
)
from ponder.text import sentence_spans as split_sentences


def test_renumbered_in_order_of_first_citation() -> None:
    m = CitationMapper(valid={1, 2, 3, 4})
    out = m.map_text("A [4]. B [2][4]. C [2, 3].")
    assert out == "A [1]. B [2][1]. C [2, 3]."
    assert m.mapping == {4: 1, 2: 2, 3: 3}
    assert m.removed == []


def test_invalid_numbers_removed_and_reported() -> None:
    m = CitationMapper(valid={1, 2})
    assert m.map_text("A [3]. B [2, 7]. C [1].") == "A. B [1]. C [2]."
    assert m.removed == [3, 7]


@pytest.mark.parametrize(
    "marker", ["[1]", "[ 1 ]", "[Source 1]", "[source: 1]", "[1,2]", "[1; 2]", "[doc 1]"]
)
def test_marker_variants_are_recognised(marker: str) -> None:
    assert cited_numbers(f"Text {marker}.")[0] == 1


def test_brackets_that_are_not_citations_are_left_alone() -> None:
    m = CitationMapper(valid={1})
    text = "Index a list with x[0] or a[i]; see [note] and [1]."
    assert m.map_text(text) == "Index a list with x[0] or a[i]; see [note] and [1]."
    assert m.removed == []


def test_a_citation_attached_to_a_word_still_counts() -> None:
    m = CitationMapper(valid={1, 2})
    assert m.map_text("Paris[2] is big[9].") == "Paris[1] is big[9]."
    assert m.removed == []  # "big[9]" may be code: left alone, not reported


@pytest.mark.parametrize("cuts", [[3], [5, 6], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]])
def test_streaming_gives_the_same_text_as_mapping_at_once(cuts: list[int]) -> None:
    text = "Use DictReader [3]. It reads the header [9]. See [3, 1] and [Source 2]."
    whole = CitationMapper(valid={1, 2, 3}).map_text(text)
    m = CitationMapper(valid={1, 2, 3})
    pieces, pos = [], 0
    for c in [*cuts, len(text)]:
        pieces.append(m.feed(text[pos:c]))
        pos = c
    while pos < len(text):  # the rest, one character at a time
        pieces.append(m.feed(text[pos]))
        pos += 1
    pieces.append(m.flush())
    assert "".join(pieces) == whole
    assert m.removed == [9]


def test_split_sentences_keeps_citations_and_dotted_names() -> None:
    t = "Call csv.reader(f). [1] Python 3.12 has it [2].\nA new line"
    assert [t[s:e] for s, e in split_sentences(t)] == [
        "Call csv.reader(f). [1]", "Python 3.12 has it [2].", "A new line"]


def test_support_threshold_is_documented_value() -> None:
    assert SUPPORT_THRESHOLD == 0.6


def test_support_is_containment_of_content_words() -> None:
    src = "The csv module's DictReader class maps each row to a dictionary."
    assert support_score("DictReader maps each row to a dictionary [1].", src) == 1.0
    # 3 of 5 content words (dictreader, map, row | json, file) -> 0.6, exactly the threshold
    assert support_score("DictReader maps rows from JSON files.", src) == pytest.approx(0.6)
    assert support_score("The moon is made of cheese.", src) == 0.0


def test_a_changed_number_is_not_supported() -> None:
    src = "The Broncos won Super Bowl 50 by 24 to 10."
    assert support_score("The Broncos won by 24 to 10.", src) == 1.0
    assert support_score("The Broncos won by 34 to 10.", src) == 0.0


def test_unsupported_sentences_and_uncited_support() -> None:
    sources = {1: "Paris is the capital of France.", 2: "Berlin is the capital of Germany."}
    answer = ("Paris is the capital of France [2]. Berlin is the capital of Germany. "
              "Rome has 7 hills.")
    r = check_support(answer, sources)
    assert [x.cited for x in r] == [(2,), (), ()]
    assert [x.supported_by for x in r] == [(1,), (2,), ()]  # cited [2] is wrong, [1] supports
    assert [x.kind for x in r] == ["claim", "claim", "claim"]


def test_refusals_and_filler_are_not_claims() -> None:
    r = check_support("The sources do not contain the answer. Sure!", {1: "Unrelated text."})
    assert [x.kind for x in r] == ["refusal", "filler"]
    assert is_refusal("The context does not mention the year.")
    assert is_refusal("There is no information about this.")
    assert not is_refusal("The year is not a leap year but has 365 days.")


class _TableEmbedder(Embedder):
    """Embeds known sentences to fixed vectors: paraphrases share a direction."""

    dim = 2
    model_id = "table"
    normalized = True

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        out = []
        for t in texts:
            low = t.lower()
            out.append([1.0, 0.0] if ("automobile" in low or "car" in low) else [0.0, 1.0])
        return np.asarray(out, dtype=np.float32)


def test_embedding_support_accepts_paraphrases_lexical_does_not() -> None:
    sources = {1: "A car has four wheels."}
    answer = "Every automobile rolls on quadruple tyres."
    assert check_support(answer, sources)[0].supported_by == ()
    assert check_support(answer, sources, embedder=_TableEmbedder())[0].supported_by == (1,)
