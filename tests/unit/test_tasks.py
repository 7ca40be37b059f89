"""Unit tests of the task pipelines, on fakes (ScriptedGenerator, HashEmbedder): no model."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError, ContextLengthError, InputError
from ponder.llm.base import Generator
from ponder.llm.fake import ScriptedGenerator
from ponder.tasks import (
    FewShot,
    SentimentAnalyzer,
    Summarizer,
    Translator,
    ZeroShotClassifier,
    pipeline,
    resolve_task,
)
from ponder.tasks.scoring import label_logprobs, softmax
from ponder.tasks.summarize import clean_summary
from ponder.tasks.translate import translation_warning


def scorer(table: dict[str, float], default: float = -9.0) -> ScriptedGenerator:
    """A generator whose continuation log-probabilities come from ``table``."""
    return ScriptedGenerator(logprobs=lambda prompt, c: table.get(c.strip(), default))


class Recorder(ScriptedGenerator):
    """A ScriptedGenerator that records the config of every generation."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.configs: list[Any] = []

    def _stream(self, prompt, config, info):  # type: ignore[override]
        self.configs.append(config)
        return super()._stream(prompt, config, info)


class NoLogprobs(ScriptedGenerator):
    supports_logprobs = False
    model_id = "remote"


# ------------------------------------------------------------------ registry


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("summarization", "summarization"),
        ("summarize", "summarization"),
        ("sentiment-analysis", "sentiment-analysis"),
        ("Sentiment", "sentiment-analysis"),
        ("zero-shot-classification", "zero-shot-classification"),
        ("classify", "zero-shot-classification"),
        ("translate", "translation"),
        ("fewshot", "few-shot"),
    ],
)
def test_task_names_and_aliases(name: str, canonical: str) -> None:
    assert resolve_task(name)[0] == canonical


def test_hf_translation_name_implies_languages() -> None:
    t = pipeline("translation_en_to_de", model="fake")
    assert (t.options.source, t.options.target) == ("en", "de")


def test_unknown_task_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown task 'sentimant'.*'sentiment'"):
        pipeline("sentimant")


def test_pipeline_loads_no_model_until_called() -> None:
    p = pipeline("summarization", model="/no/such/model.gguf", method="abstractive")
    assert p.model_id == "/no/such/model.gguf"  # constructing did not touch the file
    with pytest.raises(Exception, match="not found"):
        p("Some text to summarize. It has two sentences.")


# ------------------------------------------------------------------ sentiment and scoring


def test_sentiment_confidence_is_softmax_over_label_logprobs() -> None:
    table = {"positive": -0.5, "negative": -2.0, "neutral": -1.0}
    r = SentimentAnalyzer(method="llm", model=scorer(table))("What a lovely day")
    # each label is also scored capitalised (-9 here): log-sum-exp of both forms
    logs = [math.log(math.exp(v) + math.exp(-9.0)) for v in table.values()]
    expected = dict(zip(table, softmax(logs), strict=True))
    assert r["label"] == "positive"
    assert r["score"] == pytest.approx(expected["positive"], abs=1e-6)
    assert r["scores"] == pytest.approx(expected, abs=1e-6)
    assert sum(r["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert list(r["scores"]) == ["positive", "neutral", "negative"]  # best first


def test_sentiment_labels_are_configurable() -> None:
    s = pipeline("sentiment", method="llm", model=scorer({"good": -0.1, "bad": -3.0}),
                 labels="good, bad")
    assert s.options.labels == ("good", "bad")
    assert s("nice").label == "good"


def test_sentiment_prompt_ends_right_before_the_label() -> None:
    g = scorer({"positive": -1.0})
    clf = SentimentAnalyzer(method="llm", model=g)
    body = clf.prompt_for(g, "Loved the film")
    assert body.endswith("Text: Loved the film")  # a chat model: the template adds the turn
    assert "positive, negative, neutral" in body
    assert clf.replace(raw=True).prompt_for(g, "Loved the film").endswith("\nAnswer:")


@pytest.mark.parametrize("labels", [["only"], "only", ["a", "a"], ["a", " "], []])
def test_bad_label_sets_are_refused(labels: Any) -> None:
    with pytest.raises(ConfigError):
        pipeline("classify", labels=labels, model="fake")


def test_one_label_is_allowed_in_multi_label_mode() -> None:
    clf = pipeline("classify", labels=["urgent"], multi_label=True, method="llm",
                   model=scorer({"yes": -0.2, "no": -2.0}))
    r = clf("Server down, customers affected")
    assert r["labels"] == ["urgent"]
    assert r["score"] == pytest.approx(1 / (1 + math.exp(-1.8)), abs=1e-3)


@pytest.mark.parametrize("bad", ["", "   \n", None, 3])
def test_empty_or_non_text_input_is_a_clear_error(bad: Any) -> None:
    with pytest.raises(InputError):
        SentimentAnalyzer(method="llm", model="fake")(bad)


def test_list_input_checks_every_item_first() -> None:
    g = scorer({"positive": -0.1})
    s = SentimentAnalyzer(method="llm", model=g)
    out = s(["good", "fine"])
    assert isinstance(out, list) and len(out) == 2
    with pytest.raises(InputError, match="input 1"):
        s(["good", ""])


def test_scoring_tasks_refuse_decoding_options() -> None:
    with pytest.raises(ConfigError, match="decoding options"):
        pipeline("sentiment", method="llm", model="fake", temperature=0.7)


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="no option"):
        pipeline("classify", labels="a,b", model="fake", colour="red")


def test_length_normalisation_when_labels_differ_in_tokens() -> None:
    # "very good" is two tokens (words, for the fake), "bad" one
    g = scorer({"very good": -2.0, "bad": -1.5})
    auto = label_logprobs(g, "x", ["very good", "bad"])
    total = label_logprobs(g, "x", ["very good", "bad"], normalize="sum")
    assert auto[0] > auto[1]  # mean per token: -1.0 vs -1.5
    assert total[0] < total[1]  # total: -2.0 vs -1.5
    same = scorer({"good": -2.0, "bad": -1.5})
    assert label_logprobs(same, "x", ["good", "bad"]) == label_logprobs(
        same, "x", ["good", "bad"], normalize="sum"
    )


def test_labels_get_a_space_after_a_raw_prompt() -> None:
    seen: list[str] = []

    def lp(prompt: str, cont: str) -> float:
        seen.append(cont)
        return -1.0

    g = ScriptedGenerator(logprobs=lp)
    label_logprobs(g, "Sentiment:", ["positive", "negative"], raw=True)
    assert all(c.startswith(" ") for c in seen)
    seen.clear()
    label_logprobs(g, "Sentiment?", ["positive", "negative"])  # chat: the reply starts fresh
    assert not any(c.startswith(" ") for c in seen)


def test_calibration_divides_out_the_content_free_bias() -> None:
    def lp(prompt: str, cont: str) -> float:
        c = cont.strip()
        if "N/A" in prompt or "[MASK]" in prompt or "Text: \n" in prompt:
            return {"positive": -0.1, "negative": -3.0}.get(c, -20.0)
        return {"positive": -0.5, "negative": -1.2}.get(c, -20.0)

    plain = pipeline("sentiment", method="llm", labels="positive,negative",
                     model=ScriptedGenerator(logprobs=lp))
    cal = plain.replace(calibrate=True)
    assert plain("meh")["label"] == "positive"
    assert cal("meh")["label"] == "negative"  # positive was mostly the model's prior
    assert cal.prior()[0] > 0.9


def test_model_without_logprobs_points_to_the_embedding_method() -> None:
    with pytest.raises(ConfigError, match="embedding"):
        pipeline("sentiment", method="llm", model=NoLogprobs())("fine")


def test_embedding_method_needs_no_generator() -> None:
    clf = ZeroShotClassifier(
        labels="cooking,football", method="embedding", embedder=HashEmbedder(dim=256),
        model="/no/such/model.gguf",
    )
    r = clf("football football match goal")
    assert r["label"] == "football" and r["method"] == "embedding"
    assert sum(r["scores"].values()) == pytest.approx(1.0, abs=1e-5)


def test_embedding_multi_label_scores_each_label_alone() -> None:
    clf = ZeroShotClassifier(labels="cooking,football", multi_label=True, method="embedding",
                             embedder=HashEmbedder(dim=256), similarity_threshold=0.2)
    r = clf("football football football")
    assert r["labels"] == ["football"]
    assert r["scores"]["football"] > 0.5 > r["scores"]["cooking"]


def test_llm_multi_label_asks_yes_no_per_label() -> None:
    def lp(prompt: str, cont: str) -> float:
        about_sport = "about sport" in prompt
        return {"yes": -0.1 if about_sport else -3.0, "no": -3.0 if about_sport else -0.1}.get(
            cont.strip(), -20.0
        )

    clf = pipeline("classify", labels="sport,politics,music", multi_label=True, method="llm",
                   model=ScriptedGenerator(logprobs=lp))
    r = clf("The derby ended 2-2.")
    assert r["labels"] == ["sport"]
    assert r["scores"]["sport"] == pytest.approx(1 / (1 + math.exp(-2.9)), abs=1e-3)


def test_long_text_is_cut_to_the_context_window_for_scoring() -> None:
    g = ScriptedGenerator(logprobs={"a": -1.0, "b": -2.0}, context_window=100)
    r = pipeline("classify", labels="a,b", method="llm", model=g)("word " * 500)
    assert r["truncated"] is True and r["label"] == "a"


# ------------------------------------------------------------------ summarization

DOC = (
    "The city council approved a new riverside park on Tuesday. "
    "The park will cost two million dollars and open next spring. "
    "The city council approved a new riverside park on Tuesday evening. "
    "Residents said the park decision was welcome. "
    "In other news, a bakery changed its opening hours."
)


def test_lead_takes_the_first_sentences() -> None:
    r = Summarizer(method="lead", num_sentences=2)(DOC)
    assert r["sentences"] == [0, 1]


def test_extractive_controls_redundancy() -> None:
    s = Summarizer(method="extractive", num_sentences=2, position_weight=0.0, diversity=0.6,
                   embedder=HashEmbedder(dim=256))
    r = s(DOC)
    assert len(r["sentences"]) == 2
    assert not {0, 2} <= set(r["sentences"])  # the near-duplicate pair is not both picked
    assert r["sentences"] == sorted(r["sentences"])  # document order


def test_extractive_length_limits_in_words() -> None:
    emb = HashEmbedder(dim=128)
    short = Summarizer(method="extractive", num_sentences=3, max_length=15, embedder=emb)(DOC)
    assert sum(len(s.split()) for s in short["summary"].split(". ")) <= 15
    long = Summarizer(method="extractive", num_sentences=1, min_length=25, embedder=emb)(DOC)
    assert len(long["summary"].split()) >= 25


def test_abstractive_uses_the_model_and_decoding_options() -> None:
    g = Recorder(["Summary: The council approved a park."])
    s = pipeline("summarization", model=g, method="abstractive", max_length=20,
                 strategy="sample", temperature=0.5, seed=3)
    r = s(DOC)
    assert r["summary"] == "The council approved a park."
    assert r["method"] == "abstractive" and r["chunks"] == 1
    cfg = g.configs[-1]
    assert (cfg.strategy, cfg.temperature, cfg.seed) == ("sample", 0.5, 3)
    assert "at most 20 words" in str(g.calls[-1])


def test_abstractive_map_reduce_on_long_documents() -> None:
    g = Recorder(lambda prompt: "Part summary.")
    long_doc = " ".join(f"Sentence number {i} talks about topic {i}." for i in range(200))
    r = Summarizer(method="abstractive", model=g, chunk_tokens=120)(long_doc)
    assert r["chunks"] > 1
    assert len(g.calls) == r["chunks"] + 1  # map over the parts, then reduce
    for call in g.calls[:-1]:
        text = str(call)
        assert g.count_tokens(text) < 120 + 80  # each part fits its budget (+ instructions)


def test_map_reduce_respects_a_small_context_window() -> None:
    g = Recorder(lambda prompt: "Short.", context_window=400)
    long_doc = " ".join(f"Fact {i} is stated here." for i in range(300))
    r = Summarizer(method="abstractive", model=g, max_length=30)(long_doc)
    assert r["chunks"] > 1 and r["summary"] == "Short."


def test_window_too_small_for_any_text_is_a_config_error() -> None:
    g = ScriptedGenerator(["x"], context_window=80)
    with pytest.raises(ConfigError, match="context window"):
        Summarizer(method="abstractive", model=g, max_length=60)(DOC)


def test_min_length_shortfall_is_a_warning() -> None:
    r = Summarizer(method="abstractive", model=ScriptedGenerator(["Park approved."]),
                   min_length=10)(DOC)
    assert "fewer than min_length" in r["warning"]


def test_clean_summary_cuts_an_unfinished_last_sentence() -> None:
    assert clean_summary("Summary: A happened. B was", cut_unfinished=True) == "A happened."
    assert clean_summary("A happened. B was", cut_unfinished=False) == "A happened. B was"


@pytest.mark.parametrize(
    "kwargs", [{"method": "magic"}, {"min_length": 50, "max_length": 10}, {"diversity": 1.5},
               {"max_length": 0}, {"temperature": -1}]
)
def test_bad_summarization_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Summarizer(model="fake", **kwargs)


# ------------------------------------------------------------------ translation


def test_translation_prompt_names_the_languages_and_stops_at_newline() -> None:
    g = Recorder(["Bonjour le monde\nExtra line"])
    r = Translator(target="fr", source="English", model=g)("Hello world")
    assert r["translation"] == "Bonjour le monde"
    assert r["source"] == "en" and r["target"] == "fr"
    assert "English text into French" in str(g.calls[-1])
    assert "\n" in g.configs[-1].stop


@pytest.mark.parametrize("bad", [{"target": "xx"}, {"target": "de", "source": "German"}, {}])
def test_bad_languages_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Translator(model="fake", **bad)


def test_translation_warnings() -> None:
    assert "unchanged" in translation_warning("Hello there.", "Hello there", "en", "de")
    assert "Cyrillic" in translation_warning("Good morning", "Good morning, friend", "en", "ru")
    assert "looks like English" in translation_warning(
        "It is raining and the streets are wet.", "It is the rain and the street is wet.",
        "en", "de")
    assert translation_warning("It is raining.", "Es regnet und die Straßen sind nass.",
                               "en", "de") is None
    assert "no translation" in translation_warning("Hi", "  ", "en", "de")


def test_small_default_model_gets_a_note() -> None:
    g = ScriptedGenerator(["Hallo Welt"], model_id="smollm2-135m-instruct-q4_1")
    r = Translator(target="de", model=g)("Hello world")
    assert "too small to translate" in r["note"]
    assert "note" not in Translator(target="de", model=ScriptedGenerator(["Hallo"]))("Hello")


# ------------------------------------------------------------------ few-shot

POOL = [
    {"input": "the soup was cold", "output": "negative"},
    {"input": "great soup and bread", "output": "positive"},
    {"input": "the train was late", "output": "negative"},
    {"input": "lovely train ride", "output": "positive"},
]


def test_fewshot_prompt_and_stop_sequences() -> None:
    g = Recorder([" positive\n---\nInput: junk"])
    fs = FewShot(POOL[:2], instruction="Label the sentiment.", separator="---", model=g)
    r = fs("a fine meal")
    assert r == {"output": "positive", "examples": [0, 1]}
    prompt = g.calls[-1]
    assert prompt == (
        "Label the sentiment.\n\nInput: the soup was cold\nOutput: negative\n---\n"
        "Input: great soup and bread\nOutput: positive\n---\nInput: a fine meal\nOutput:"
    )
    assert set(g.configs[-1].stop) >= {"---", "\nInput:"}


def test_fewshot_select_picks_the_nearest_examples() -> None:
    fs = FewShot(POOL, select=2, embedder=HashEmbedder(dim=256), model=ScriptedGenerator(["x"]))
    chosen = fs.choose("train late train")
    assert set(chosen) == {2, 3}
    assert chosen[-1] == 2  # the most similar sits next to the query


def test_fewshot_examples_from_files(tmp_path: Any) -> None:
    j = tmp_path / "ex.jsonl"
    j.write_text('{"q": "2+2", "a": "4"}\n\n{"q": "3+3", "a": "6"}\n')
    fs = FewShot(str(j), input_field="q", output_field="a", model="fake")
    assert fs.examples == [("2+2", "4"), ("3+3", "6")]
    c = tmp_path / "ex.csv"
    c.write_text("input,output\nhi,hello\n")
    assert FewShot(c, model="fake").examples == [("hi", "hello")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "x"}\n')
    with pytest.raises(InputError, match="example 1"):
        FewShot(bad, model="fake")


@pytest.mark.parametrize("kwargs", [{"examples": []}, {"examples": None},
                                    {"examples": POOL, "select": 0},
                                    {"examples": POOL, "separator": "  "}])
def test_bad_fewshot_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FewShot(model="fake", **kwargs)


# ------------------------------------------------------------------ batches


def test_iter_batch_reports_bad_items_and_goes_on() -> None:
    g = ScriptedGenerator(["Short."], context_window=200)
    s = Summarizer(method="abstractive", model=g, max_length=20)
    results = dict(s.iter_batch(["A fine text. Two sentences.", "", "Another text here."]))
    assert isinstance(results[1], InputError)
    assert results[0]["summary"] == results[2]["summary"] == "Short."


def test_context_overflow_in_a_batch_is_a_row_error() -> None:
    class Tiny(ScriptedGenerator):
        def _logprobs(self, prompt, continuations):  # type: ignore[override]
            raise ContextLengthError("prompt too long for the window: shorten it")

    s = pipeline("sentiment", method="llm", model=Tiny())
    out = list(s.iter_batch(["ok"]))
    assert isinstance(out[0][1], ContextLengthError)


def test_per_call_overrides_share_the_model() -> None:
    g = scorer({"spam": -0.1, "ham": -2.0, "eggs": -3.0})
    clf = pipeline("classify", labels="ham,eggs", method="llm", model=g)
    r = clf("buy now", labels=["spam", "ham"])
    assert r["label"] == "spam"
    assert isinstance(clf.replace(labels="a,b").generator, Generator)


def test_another_backend_plugs_in_unchanged() -> None:
    """A logits-based model without a chat template (the toy bigram model): the labels are
    scored from its real next-token distribution, after a raw prompt, with a leading space."""
    from ponder.llm.fake import ToyLanguageModel

    toy = ToyLanguageModel({"\nAnswer:": {" positive": 0.7, " negative": 0.3}})
    r = pipeline("sentiment", method="llm", labels="positive,negative", model=toy)("whatever")
    assert r["label"] == "positive"
    assert r["score"] == pytest.approx(0.7, abs=1e-3)
