"""The BOLD bias report with scripted continuations and injected scorers, and the real file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import dataset

from ponder.errors import ConfigError, InputError
from ponder.llm.fake import ScriptedGenerator
from ponder.safety.bias import DOMAINS, PROXY_NOTE, BoldPrompt, bias_report, load_bold


def _prompts(n: int = 6) -> dict[str, list[BoldPrompt]]:
    return {
        "nurses": [BoldPrompt("profession", "nurses", f"N{i}", f"N{i} is a nurse who")
                   for i in range(n)],
        "pilots": [BoldPrompt("profession", "pilots", f"P{i}", f"P{i} is a pilot who")
                   for i in range(n)],
    }


def _reply(prompt: str) -> str:
    if prompt.startswith("N0"):
        return ""  # one empty continuation: counted, not scored
    return "is kind and careful." if "nurse" in prompt else "is rude and careless."


def _sentiment(texts: list[str]) -> list[float]:
    return [0.8 if "kind" in t else -0.6 for t in texts]


def _toxicity(texts: list[str]) -> list[float]:
    return [0.05 if "kind" in t else 0.4 for t in texts]


def test_report_per_group_with_intervals_gap_and_empty_counts() -> None:
    scored: list[str] = []

    def sentiment(texts: list[str]) -> list[float]:
        scored.extend(texts)
        return _sentiment(texts)

    r = bias_report(prompts=_prompts(), generator=ScriptedGenerator(_reply),
                    sentiment=sentiment, toxicity=_toxicity, permutations=200)
    assert r.domain == "profession" and r.model == "scripted"
    assert r.prompts == {"nurses": 6, "pilots": 6} and r.empty == {"nurses": 1, "pilots": 0}
    assert "" not in scored and len(scored) == 11  # the empty one is never scored
    s = r.groups["sentiment"]
    assert (s["nurses"].n, s["nurses"].mean) == (5, pytest.approx(0.8))
    assert s["pilots"].mean == pytest.approx(-0.6) and s["pilots"].ci == pytest.approx((-0.6,
                                                                                         -0.6))
    gap = r.gaps["sentiment"]
    assert gap is not None and gap.gap == pytest.approx(1.4) and gap.highest == "nurses"
    assert gap.p_value < 0.05
    d = r.to_dict(with_continuations=True)
    assert d["note"] == PROXY_NOTE and "proxy for regard" in d["note"]
    assert d["empty_total"] == 1 and len(d["continuations"]) == 12
    assert d["metrics"]["toxicity"]["per_group"]["pilots"]["mean"] == 0.4
    assert "| nurses | 6 | 1 |" in r.markdown()
    assert r.metrics()["sentiment.gap"] == pytest.approx(1.4)


def test_continuations_are_seeded_sampling_per_prompt() -> None:
    seen: list[dict] = []

    class Recording(ScriptedGenerator):
        def generate(self, prompt, config=None, **kw):  # type: ignore[override]
            seen.append({k: kw.get(k) for k in ("raw", "strategy", "seed", "max_new_tokens")})
            return super().generate(prompt, config, **kw)

    bias_report(prompts=_prompts(2), generator=Recording(["is fine."]), sentiment=_sentiment,
                toxicity=_toxicity, seed=5, max_new_tokens=12, permutations=10)
    assert [s["seed"] for s in seen] == [5, 6, 7, 8]
    assert all(s["raw"] and s["strategy"] == "sample" and s["max_new_tokens"] == 12
               for s in seen)


def test_limit_per_group_samples_and_is_repeatable() -> None:
    a = bias_report(prompts=_prompts(10), generator=ScriptedGenerator(_reply), limit_per_group=3,
                    sentiment=_sentiment, toxicity=_toxicity, permutations=10, seed=2)
    b = bias_report(prompts=_prompts(10), generator=ScriptedGenerator(_reply), limit_per_group=3,
                    sentiment=_sentiment, toxicity=_toxicity, permutations=10, seed=2)
    assert a.prompts == {"nurses": 3, "pilots": 3}
    assert [c.prompt for c in a.continuations] == [c.prompt for c in b.continuations]


def test_all_empty_group_is_reported_not_dropped() -> None:
    r = bias_report(prompts=_prompts(3), generator=ScriptedGenerator(
        lambda p: "" if "nurse" in p else "is rude."), sentiment=_sentiment,
        toxicity=_toxicity, permutations=10)
    assert r.empty["nurses"] == 3 and r.groups["sentiment"]["nurses"].n == 0
    assert r.gaps["sentiment"] is None  # one group scored: no gap to test
    assert "fewer than two groups" in r.markdown()


def test_bad_domain_group_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="political_ideology"):
        load_bold(tmp_path, "sports")
    with pytest.raises(InputError, match="shared/datasets/bold"):
        load_bold(tmp_path, "gender")
    with pytest.raises(ConfigError, match="nurses, pilots"):
        bias_report(prompts=_prompts(), groups=["chefs"], generator=ScriptedGenerator(),
                    sentiment=_sentiment, toxicity=_toxicity)
    with pytest.raises(ConfigError, match="limit-per-group"):
        bias_report(prompts=_prompts(), limit_per_group=0, generator=ScriptedGenerator(),
                    sentiment=_sentiment, toxicity=_toxicity)


def test_scorer_returning_wrong_count_is_refused() -> None:
    with pytest.raises(ConfigError, match="returned 1 scores"):
        bias_report(prompts=_prompts(2), generator=ScriptedGenerator(["ok."]),
                    sentiment=lambda ts: [0.0], toxicity=_toxicity)


def test_loads_a_bold_style_file(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "gender_prompt.json").write_text(json.dumps(
        {"American_actors": {"A_B": ["A B is an actor ", " "]},
         "American_actresses": {"C_D": ["C D is an actress "]}}))
    g = load_bold(tmp_path, "gender")
    assert [p.prompt for p in g["American_actors"]] == ["A B is an actor"]
    assert g["American_actresses"][0].name == "C_D"


@pytest.mark.dataset
def test_real_bold_prompts() -> None:
    folder = dataset("bold")
    counts = {d: {g: len(v) for g, v in load_bold(folder, d).items()} for d in DOMAINS}
    assert counts["gender"] == {"American_actors": 2048, "American_actresses": 1156}
    assert len(counts["race"]) == 4 and len(counts["political_ideology"]) == 12
    # 23,679 prompts in the files, 5 of them blank (nothing to continue)
    assert sum(sum(c.values()) for c in counts.values()) == 23674
