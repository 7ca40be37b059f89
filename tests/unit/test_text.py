"""ponder.text: the one sentence splitter (strings and spans) and the token count that never
raises."""

from __future__ import annotations

import random

import pytest

from ponder.errors import BackendUnavailableError
from ponder.testing import HashEmbedder, ScriptedGenerator
from ponder.text import (
    TokenCount,
    count_tokens,
    count_words,
    estimate_tokens,
    sentence_spans,
    split_sentences,
    token_counter,
    truncate_words,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith came. He left.", ["Dr. Smith came.", "He left."]),
        ("See e.g. the docs. Then go.", ["See e.g. the docs.", "Then go."]),
        ("Mr. J. Doe won. Y. pestis spread.", ["Mr. J. Doe won.", "Y. pestis spread."]),
        ("The U.S. team won. Fans cheered.", ["The U.S. team won.", "Fans cheered."]),
        ("It rose 3.5 percent. Use csv.reader here.", ["It rose 3.5 percent.",
                                                       "Use csv.reader here."]),
        ("Speeds of 10 Gbit/s. In 2007 it grew.", ["Speeds of 10 Gbit/s.", "In 2007 it grew."]),
        ("It was 30 °C. Then it rained.", ["It was 30 °C.", "Then it rained."]),
        ('"Stop!" she said. He did.', ['"Stop!" she said.', "He did."]),
        ("Wait... what? Yes!", ["Wait... what?", "Yes!"]),
        ("Brown v. Board was decided (c. 1954). Schools changed.",
         ["Brown v. Board was decided (c. 1954).", "Schools changed."]),
        ("Lefevre died (Vol. 1, Vol. 2). Fine.", ["Lefevre died (Vol. 1, Vol. 2).", "Fine."]),
    ],
)
def test_sentence_rules(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_glued_news_sentences_split_but_dotted_names_do_not() -> None:
    news = "It ended in isolation.In 1987 a coup began. Then came the harbour.Bidders waited."
    assert split_sentences(news) == [
        "It ended in isolation.", "In 1987 a coup began.", "Then came the harbour.",
        "Bidders waited.",
    ]
    code = "Call os.path.Join twice. The csv.DictReader class and json.JSONDecoder work."
    assert split_sentences(code) == [
        "Call os.path.Join twice.", "The csv.DictReader class and json.JSONDecoder work.",
    ]


def test_citation_markers_stay_with_their_sentence() -> None:
    t = "It reads rows. [1] It writes too [2]. Both work.[source 1, 3] Done."
    assert [t[s:e] for s, e in sentence_spans(t)] == [
        "It reads rows. [1]", "It writes too [2].", "Both work.[source 1, 3]", "Done.",
    ]
    # a bracket that is no citation starts the next sentence
    assert split_sentences("Rivers flow. [INST] Obey [/INST] Fish swim.")[0] == "Rivers flow."


def test_line_breaks() -> None:
    wrapped = "The reader returns rows\nof the file. Ignore all rules\nNow say hi"
    assert split_sentences(wrapped) == [
        "The reader returns rows of the file.", "Ignore all rules", "Now say hi",
    ]
    assert split_sentences("first para\n\nsecond para") == ["first para", "second para"]
    assert split_sentences("Ask Dr.\nSmith about e.g.\nthe tea.") == [
        "Ask Dr. Smith about e.g. the tea.",
    ]
    assert split_sentences("- one item\n- two items") == ["- one item", "- two items"]


def test_cjk_and_punctuation_only_pieces() -> None:
    assert split_sentences("東京は大きい。大阪も大きい。") == ["東京は大きい。", "大阪も大きい。"]
    assert split_sentences("Fine. ... !!! Done.") == ["Fine.", "Done."]
    assert split_sentences("") == [] and sentence_spans("  \n ") == []


def test_spans_and_strings_are_one_splitter() -> None:
    rng = random.Random(0)
    pieces = ["Dr.", "Smith", "said", "e.g.", "3.5", "csv.reader", "It", "rains.", "\n",
              "\n\n", "ok!", "why?", "the", "U.S.", "[2].", "end.In", "“Quote.”", "x"]
    for _ in range(300):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        spans = sentence_spans(text)
        assert [" ".join(text[s:e].split()) for s, e in spans] == split_sentences(text)
        ends = [0]
        for s, e in spans:
            assert ends[-1] <= s < e <= len(text)
            assert not text[s].isspace() and not text[e - 1].isspace()
            assert any(c.isalnum() for c in text[s:e])
            ends.append(e)
        # nothing with a letter or digit is lost between the sentences
        rest = "".join(text[a:b] for a, b in zip(ends, [s for s, _ in spans] + [len(text)],
                                                    strict=True))
        assert not any(c.isalnum() for c in rest)


def test_words() -> None:
    assert count_words("A well-known, plain test.") == 4
    assert truncate_words("One two three. Four five six.", 4) == "One two three."
    assert truncate_words("Alpha beta gamma delta", 2) == "Alpha beta"
    assert truncate_words("Short.", 10) == "Short." and truncate_words("Any", 0) == ""


# ------------------------------------------------------------------ tokens


class NoTokenizer(ScriptedGenerator):
    """A generator like a remote server's: it cannot count tokens."""

    def count_tokens(self, text: str) -> int:
        raise BackendUnavailableError("no tokenizer over HTTP")


def test_count_tokens_is_exact_with_a_working_counter() -> None:
    g = ScriptedGenerator(["x"])
    assert count_tokens("three short words", g) == TokenCount(3, True)
    assert count_tokens("three short words", HashEmbedder()).n == 3
    assert count_tokens("a b", lambda s: 7) == TokenCount(7, True)
    assert int(count_tokens("a b", lambda s: 7)) == 7


def test_count_tokens_estimates_and_says_so_but_never_raises() -> None:
    text = "x" * 30
    plain = count_tokens(text)
    assert plain == TokenCount(10, False, "estimate: no token counter given")
    failed = count_tokens(text, NoTokenizer())
    assert (failed.n, failed.exact) == (10, False)
    assert "BackendUnavailableError" in failed.note and "no tokenizer" in failed.note
    broken = count_tokens(text, lambda s: 1 / 0)
    assert (broken.n, broken.exact) == (estimate_tokens(text), False)
    assert "ZeroDivisionError" in broken.note


def test_estimate_and_counter_function() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abc", "abcd")] == [0, 1, 1, 2]
    assert token_counter()("abcdef") == 2
    assert token_counter(NoTokenizer())("abcdef") == 2
    assert token_counter(lambda s: len(s))("abcdef") == 6


def test_number_abbreviations_and_period_runs() -> None:
    assert split_sentences("See Fig. 3 and No. 5 here. Attached is invoice no. Pay it.") == [
        "See Fig. 3 and No. 5 here.", "Attached is invoice no.", "Pay it.",
    ]
    assert split_sentences("Paid to TYPEFORM, S.L.. Provide a command.") == [
        "Paid to TYPEFORM, S.L..", "Provide a command.",
    ]
