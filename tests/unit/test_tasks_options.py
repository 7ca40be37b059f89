"""The task base: frozen options dataclasses, typed results with ``to_dict()``, and the prompt
assembly and fit-to-window that every prompted task shares (on fakes: no model)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ponder.errors import BackendUnavailableError, ConfigError
from ponder.safety.toxic import ToxicityScorer
from ponder.tasks import (
    ClassifyOptions,
    FewShot,
    LabelResult,
    SentimentAnalyzer,
    Summarizer,
    SummaryResult,
    TranslateOptions,
    TranslationResult,
    Translator,
    ZeroShotClassifier,
    pipeline,
)
from ponder.testing import HashEmbedder, ScriptedGenerator

DOC = "The council approved the park. It opens in spring. Residents are pleased."


class NoTokenizer(ScriptedGenerator):
    """A generator like a remote server's: it cannot count tokens."""

    def count_tokens(self, text: str) -> int:
        raise BackendUnavailableError("no tokenizer over HTTP")


def test_results_are_typed_and_their_json_leaves_out_unset_fields() -> None:
    r = Translator("de", model=ScriptedGenerator(["Guten Morgen"]))("Good morning")
    assert isinstance(r, TranslationResult)
    assert r.to_dict() == {"translation": "Guten Morgen", "source": None, "target": "de"}
    assert "warning" not in r.to_dict() and r.warning is None and r.truncated is False
    # a result reads as its JSON object: the callers that index it keep working
    assert r["translation"] == "Guten Morgen" and r.get("note") is None and "target" in r
    assert r == r.to_dict() and dict(r) == r.to_dict()
    assert json.dumps(r.to_dict()) == (
        '{"translation": "Guten Morgen", "source": null, "target": "de"}'
    )


def test_result_fields_keep_the_order_of_the_json() -> None:
    s = Summarizer(method="lead", num_sentences=1)(DOC)
    assert isinstance(s, SummaryResult)
    assert list(s.to_dict()) == ["summary", "method", "sentences"]
    auto = Summarizer(num_sentences=1, embedder=HashEmbedder(dim=64))(DOC)
    assert list(auto.to_dict())[-1] == "method_detail"
    clf = ZeroShotClassifier("tea,football", embedder=HashEmbedder(dim=64), multi_label=True)
    r = clf("football goal")
    assert isinstance(r, LabelResult)
    assert list(r.to_dict()) == ["label", "score", "scores", "labels", "method"]


def test_options_are_frozen_and_replace_checks_them_again() -> None:
    t = pipeline("translation", target="German", model="fake")
    assert t.options == TranslateOptions(target="de")
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.options.target = "fr"  # type: ignore[misc]
    assert t.replace(target="French").options.target == "fr"
    assert t.options.target == "de"  # the original is unchanged
    with pytest.raises(ConfigError, match="both English"):
        t.replace(target="en", source="English")
    with pytest.raises(ConfigError, match="unknown language"):
        dataclasses.replace(t.options, target="Klingon")


def test_options_can_be_given_whole_and_per_call() -> None:
    opts = ClassifyOptions(labels="tea, football")
    assert opts.labels == ("tea", "football") and opts.method == "embedding"
    clf = ZeroShotClassifier(options=opts, embedder=HashEmbedder(dim=64))
    assert clf.options is opts
    r = clf("football goal", labels=["football", "cooking"])
    assert set(r.scores) == {"football", "cooking"}
    with pytest.raises(ConfigError, match="takes options=TranslateOptions"):
        Translator(options=opts)  # type: ignore[arg-type]


def test_the_first_argument_sets_the_primary_option_only() -> None:
    assert Translator("fr", model="fake").options.target == "fr"
    assert ZeroShotClassifier("a,b").options.labels == ("a", "b")
    assert FewShot([("hi", "hello")], model="fake").examples == [("hi", "hello")]
    with pytest.raises(ConfigError, match="keyword options only"):
        Summarizer("extractive")
    with pytest.raises(ConfigError, match=r"no option\(s\) \['colour'\]"):
        pipeline("summarization", colour="red")


def test_sentiment_options_know_the_head_and_llm_defaults() -> None:
    assert SentimentAnalyzer().options.labels == ("negative", "neutral", "positive")
    llm = SentimentAnalyzer(method="llm", model="fake")
    assert llm.options.labels == ("positive", "negative", "neutral")
    with pytest.raises(ConfigError, match="multi_label needs"):
        SentimentAnalyzer(multi_label=True)


def test_prompt_assembly_adds_the_raw_suffix_only_without_a_chat_template() -> None:
    chat = ScriptedGenerator(["x"])
    chat.has_chat_template = True  # type: ignore[misc]
    plain = ScriptedGenerator(["x"])
    plain.has_chat_template = False  # type: ignore[misc]
    t = Translator("de", model=plain)
    assert t.prompt_for(plain, "Hi", "en").endswith("Hi\n\nGerman translation:")
    assert t.prompt_for(chat, "Hi", None).endswith("into German. Reply with the German "
                                                   "translation only.\n\nHi")
    assert t.replace(raw=True).prompt_for(chat, "Hi", "en").endswith("German translation:")
    s = Summarizer(method="abstractive", model=chat, prompt="Gist of {text}")
    assert s.render(chat, text="T", length="x") == "Gist of T"
    with pytest.raises(ConfigError, match=r"needs a \{text\} variable"):
        Summarizer(prompt="No variable here")


def test_fit_to_window_uses_the_estimate_when_the_model_has_no_tokenizer() -> None:
    g = NoTokenizer(logprobs={"tea": -0.5, "football": -2.0}, context_window=160)
    clf = ZeroShotClassifier("tea,football", method="llm", model=g)
    r = clf("word " * 400)  # 2,000 characters: about 667 estimated tokens
    assert r.truncated and r.label == "tea"
    short = clf("a cup of tea")
    assert not short.truncated and "truncated" not in short.to_dict()


def test_summaries_map_reduce_with_estimated_tokens() -> None:
    g = NoTokenizer(["Part summary."], context_window=400)
    long_doc = " ".join(f"Sentence number {i} talks about the park budget." for i in range(80))
    r = Summarizer(method="abstractive", model=g)(long_doc)
    assert r.summary == "Part summary." and r.chunks > 1


def test_too_small_a_window_is_a_config_error_naming_the_fix() -> None:
    g = ScriptedGenerator(logprobs={"a": -1.0}, context_window=40)
    clf = ZeroShotClassifier("a,b", method="llm", model=g)
    with pytest.raises(ConfigError, match=r"context window of 40 tokens.*shorten the prompt"):
        clf("some text")


def test_toxicity_scorer_is_a_task_with_options_and_a_typed_result() -> None:
    g = ScriptedGenerator(logprobs={"yes": -0.2, "no": -2.0})
    scorer = ToxicityScorer(method="llm", model=g)
    r = scorer("You are an idiot")
    assert r.to_dict() == {"label": "toxic", "score": r.score, "method": "llm",
                           "method_detail": r.method_detail}
    assert scorer.replace(threshold=0.99)("You are an idiot").label == "ok"
    with pytest.raises(ConfigError, match="decoding options"):
        ToxicityScorer(temperature=0.5)


def _dicts(results: Any) -> list[dict[str, Any]]:
    return [r.to_dict() for r in results]


def test_a_list_gives_a_list_of_results() -> None:
    clf = ZeroShotClassifier("tea,football", embedder=HashEmbedder(dim=64))
    out = clf(["tea time", "football goal"])
    assert [r["label"] for r in _dicts(out)] == [r.label for r in out]
