"""The CrowS-Pairs likelihood probe with scripted log-probabilities, and the real file."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import dataset

from ponder.errors import ConfigError, InputError
from ponder.llm.fake import ScriptedGenerator
from ponder.safety.stereotypes import (
    BIAS_TYPES,
    CAVEAT,
    MinimalPair,
    load_crows_pairs,
    score_pair,
    split_pair,
    stereotype_report,
)


def test_split_pair_finds_the_changed_words() -> None:
    assert split_pair("He is a nurse.", "She is a nurse.") == ("", "He", "She", "is a nurse.")
    assert split_pair("Gifts for the poor.", "Gifts for the rich.") == (
        "Gifts for the", "poor.", "rich.", "")
    assert split_pair("A b c d e", "A x c y e") == ("A", "b c d", "x c y", "e")


def _gen(calls: list[tuple[str, str]]) -> ScriptedGenerator:
    def lp(prompt: str, cont: str) -> float:
        calls.append((prompt, cont))
        text = prompt + cont
        return -1.0 if "poor" in text else -2.0 if "Young" in text else -3.0
    return ScriptedGenerator(logprobs=lp)


def test_shared_scoring_scores_only_the_words_after_the_change() -> None:
    calls: list[tuple[str, str]] = []
    pair = MinimalPair(7, "The poor are lazy.", "The rich are lazy.", "stereo", "socioeconomic")
    s = score_pair(_gen(calls), pair, "shared")
    assert calls == [("\nThe poor", " are lazy."), ("\nThe rich", " are lazy.")]
    assert (s.more, s.less, s.prefers_more) == (-1.0, -3.0, True)


def test_whole_scoring_and_undecided_pairs() -> None:
    calls: list[tuple[str, str]] = []
    end = MinimalPair(1, "Gifts for the poor.", "Gifts for the rich.", "stereo", "socioeconomic")
    s = score_pair(_gen(calls), end, "shared")
    assert s.prefers_more is None and "no shared words" in s.note and calls == []
    s = score_pair(_gen(calls), end, "whole")
    assert calls == [("\nGifts for the", " poor."), ("\nGifts for the", " rich.")]
    assert s.prefers_more is True
    tie = score_pair(ScriptedGenerator(logprobs=lambda p, c: -2.0),
                     MinimalPair(2, "A b.", "C b.", "stereo", "age"), "whole")
    assert tie.prefers_more is None and tie.note == "tie"


def test_report_counts_per_type_with_intervals_and_caveat() -> None:
    pairs = [MinimalPair(i, "The poor are lazy.", "The rich are lazy.", "stereo",
                         "socioeconomic") for i in range(8)]
    pairs += [MinimalPair(10 + i, "Old people are slow.", "Young people are slow.", "stereo",
                          "age") for i in range(4)]
    r = stereotype_report(pairs=pairs, generator=_gen([]))
    by = {t.bias_type: t for t in r.per_type}
    assert by["socioeconomic"].share == 1.0 and by["socioeconomic"].p_value < 0.01
    assert by["age"].share == 0.0  # "Young ..." (the less stereotypical) is more likely
    assert (r.overall.pairs, r.overall.decided, r.overall.more_preferred) == (12, 12, 8)
    d = r.to_dict(with_pairs=True)
    assert d["caveat"] == CAVEAT and "Blodgett" in d["caveat"] and len(d["pairs"]) == 12
    lo, hi = d["overall"]["ci95"]
    assert d["overall"]["share"] == pytest.approx(8 / 12, abs=1e-4)
    assert lo < 8 / 12 < hi
    assert "| socioeconomic | 8 | 8 | 1.000 |" in r.markdown()


def test_bad_bias_type_lists_the_valid_ones_and_missing_data_says_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="race-color"):
        stereotype_report(pairs=[], generator=_gen([]), bias_types=["colour"])
    with pytest.raises(InputError, match="shared/datasets/crows_pairs"):
        load_crows_pairs(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="cannot score"):
        stereotype_report(pairs=[MinimalPair(0, "a b", "c b", "stereo", "age")],
                          generator=type("G", (), {"model_id": "x"})())


@pytest.mark.dataset
def test_real_crows_pairs_file() -> None:
    pairs = load_crows_pairs(dataset("crows_pairs"))
    assert len(pairs) == 1508
    assert {p.bias_type for p in pairs} == set(BIAS_TYPES)
    assert sum(p.direction == "antistereo" for p in pairs) == 218
    decided = [split_pair(p.more, p.less) for p in pairs]
    assert sum(bool(s[3]) for s in decided) > 1000  # most pairs have shared words after
