"""The shared Generator machinery: streaming, stop strings, completions, locking, scripts."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ponder.errors import ConfigError, GenerationError
from ponder.llm import Message, load_generator
from ponder.llm.base import Generator, StreamInfo, Token
from ponder.llm.config import GenerationConfig
from ponder.llm.fake import ScriptedGenerator


class Pieces(Generator):
    """Yields fixed text pieces, one token each."""

    model_id = "pieces"

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.pulled = 0

    def _stream(self, prompt, config: GenerationConfig, info: StreamInfo) -> Iterator[Token]:
        def gen() -> Iterator[Token]:
            for i, p in enumerate(self.pieces[: config.max_new_tokens]):
                self.pulled += 1
                yield Token(p, i, -0.5)
            info.finish_reason = (
                "length" if len(self.pieces) > config.max_new_tokens else "stop"
            )

        return gen()


def test_stop_string_split_across_tokens_is_held_back_and_cut() -> None:
    g = Pieces(["Hello", " wor", "ld", "<", "/", "end", "> after", " more"])
    stream = g.generate("x", stop=["</end>"])
    seen = [t.text for t in stream]
    assert "".join(seen) == "Hello world"
    assert stream.finish_reason == "stop"
    assert "<" not in "".join(seen)
    assert g.pulled == 7  # generation stopped as soon as the stop string was complete


def test_stop_string_inside_a_token_trims_it() -> None:
    c = Pieces(["The answer", " is 42.\nQ:", " next"]).complete("x", stop=["\nQ:"])
    assert c.text == "The answer is 42."
    assert c.tokens[-1].text == " is 42."


def test_false_alarm_prefix_is_released() -> None:
    c = Pieces(["a <", "b", "> c"]).complete("x", stop=["<end>"])
    assert c.text == "a <b> c"
    assert c.finish_reason == "stop"


def test_earliest_of_several_stops_wins() -> None:
    c = Pieces(["one. two! three"]).complete("x", stop=["!", "."])
    assert c.text == "one"


def test_length_finish_and_completion_fields() -> None:
    c = Pieces(["a", "b", "c"]).complete("x", max_new_tokens=2)
    assert c.text == "ab"
    assert c.finish_reason == "length"
    assert c.completion_tokens == 2
    assert c.logprob == pytest.approx(-1.0)
    d = c.to_dict()
    for key in ("text", "tokens", "tokens_per_second", "finish_reason", "time_to_first_token"):
        assert key in d
    assert d["tokens"][0] == {"text": "a", "id": 0, "logprob": -0.5}


def test_invalid_config_fails_before_any_work() -> None:
    g = Pieces(["a"])
    with pytest.raises(ConfigError):
        g.generate("x", top_p=0)
    assert g.pulled == 0
    with pytest.raises(ConfigError, match="does not support beam search"):
        g.generate("x", strategy="beam")


def test_unfinished_stream_blocks_a_second_generation_in_the_same_thread() -> None:
    g = Pieces(["a", "b"])
    s = g.generate("x")
    next(s)
    with pytest.raises(GenerationError, match="still busy"):
        g.generate("y")
    s.close()
    assert g.complete("y").text == "ab"


def test_other_threads_wait_their_turn() -> None:
    g = Pieces(["a", "b", "c"])
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(g.complete("x").text))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == ["abc"] * 4


def test_backend_exceptions_become_generation_errors() -> None:
    class Broken(Generator):
        model_id = "broken"

        def _stream(self, prompt, config, info):
            def gen():
                yield Token("a")
                raise RuntimeError("disk on fire")

            return gen()

    with pytest.raises(GenerationError, match="disk on fire"):
        Broken().complete("x")


def test_prepare_prompt_messages_and_system() -> None:
    g = ScriptedGenerator()
    msgs = g.prepare_prompt([{"role": "user", "content": "hi"}], system="sys")
    assert msgs == [Message("system", "sys"), Message("user", "hi")]
    assert g.prepare_prompt("hi", raw=True) == "hi"
    with pytest.raises(ConfigError, match="role"):
        Message("robot", "x")
    with pytest.raises(ConfigError, match="raw=True"):
        g.prepare_prompt([Message("user", "x")], raw=True)


def test_scripted_replies_in_turn_by_key_and_by_function() -> None:
    g = ScriptedGenerator(["one", "two"])
    assert [g.complete("x").text for _ in range(3)] == ["one", "two", "one"]
    assert len(g.calls) == 3
    keyed = ScriptedGenerator({"cat": "meow"}, default="?")
    assert keyed.complete("a cat").text == "meow"
    assert keyed.complete("a dog").text == "?"
    fn = ScriptedGenerator(lambda p: p.upper()[-5:])
    assert fn.complete("hello", raw=True).text == "HELLO"


def test_scripted_logprobs_and_chat() -> None:
    g = ScriptedGenerator(["positive"])
    lp = g.logprobs("Review: great!", ["positive", "negative"])
    assert lp[0] > lp[1]
    custom = ScriptedGenerator(logprobs={"yes": -0.2})
    assert custom.logprobs("q", ["yes", "no"]) == [-0.2, -10.0]
    fn = ScriptedGenerator(logprobs=lambda p, c: -float(len(c)))
    assert fn.logprobs("q", ["ab", "abcd"]) == [-2.0, -4.0]
    c = g.chat([Message("user", "hi")], max_new_tokens=5)
    assert c.text == "positive"
    with pytest.raises(ConfigError):
        g.logprobs("q", [""])


def test_load_fake_and_toy_are_fresh_instances() -> None:
    a, b = load_generator("fake"), load_generator("fake")
    assert a is not b
    assert load_generator("scripted", default="hi").complete("x").text == "hi"
