from __future__ import annotations

import pytest

from ponder.errors import ConfigError
from ponder.llm.config import GenerationConfig


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"top_p": 0.0}, "top_p=0.0 is outside (0, 1]"),
        ({"top_p": 1.2}, "top_p=1.2 is outside (0, 1]"),
        ({"num_beams": 0}, "num_beams=0 must be an integer >= 1"),
        ({"temperature": -0.1}, "temperature=-0.1 is negative"),
        ({"strategy": "nucleus"}, "unknown strategy 'nucleus'"),
        ({"top_k": -1}, "top_k=-1"),
        ({"max_new_tokens": 0}, "max_new_tokens=0"),
        ({"repetition_penalty": 0}, "repetition_penalty=0"),
        ({"truncate": "middle"}, "truncate='middle'"),
        ({"temperature": float("nan")}, "finite number"),
        ({"stop": ("",)}, "non-empty"),
        ({"strategy": "greedy", "num_beams": 3}, "needs strategy 'beam'"),
        ({"strategy": "beam", "num_beams": 99}, "more than 16"),
    ],
)
def test_invalid_parameters_raise_clear_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        GenerationConfig(**kwargs).validate()
    assert fragment in str(e.value)


def test_defaults_are_safe_and_greedy() -> None:
    c = GenerationConfig().validate()
    assert c.strategy == "greedy"
    assert c.num_beams == 1
    assert c.max_new_tokens == 256
    assert c.repetition_penalty == 1.0
    assert not c.samples


def test_beam_defaults_to_four_beams_and_sample_with_beams_is_stochastic_beam_search() -> None:
    assert GenerationConfig(strategy="beam").validate().num_beams == 4
    c = GenerationConfig(strategy="sample", num_beams=3).validate()
    assert (c.strategy, c.num_beams, c.sample_beams) == ("beam", 3, True)
    assert c.samples


def test_strategy_is_case_insensitive_and_stop_string_becomes_tuple() -> None:
    c = GenerationConfig(strategy="SAMPLE").replace(stop="END").validate()
    assert c.strategy == "sample"
    assert c.stop == ("END",)


def test_sampling_at_zero_temperature_is_greedy() -> None:
    assert not GenerationConfig(strategy="sample", temperature=0.0).validate().samples


def test_replace_rejects_unknown_options_and_ignores_none() -> None:
    c = GenerationConfig().replace(top_k=None, seed=3)
    assert c.top_k == 0 and c.seed == 3
    with pytest.raises(ConfigError, match="unknown generation option"):
        GenerationConfig().replace(beams=3)


def test_to_dict_round_trips() -> None:
    c = GenerationConfig(strategy="sample", stop=("a",), seed=1).validate()
    assert GenerationConfig(**{**c.to_dict(), "stop": tuple(c.to_dict()["stop"])}) == c
