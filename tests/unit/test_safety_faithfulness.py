"""The support checker measured as a hallucination detector: synthetic FRANK-style data, and the
published metrics' partial correlations reproduced on the real test split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import dataset

from ponder.embed.fake import HashEmbedder
from ponder.errors import ConfigError, InputError
from ponder.rag.citations import check_support
from ponder.safety.faithfulness import (
    ERROR_TYPES,
    PUBLISHED,
    CachedEmbedder,
    FrankItem,
    check_summary,
    correlate,
    faithfulness_report,
    fragment_support,
    load_frank,
)

ARTICLE = ("The council approved the new bridge on Monday. Construction will cost 12 million "
           "pounds. The mayor said the bridge would open in 2026.")


def test_lexical_check_is_asks_checker() -> None:
    summary = "The council approved the new bridge. The bridge will cost 40 million pounds."
    c = check_summary(summary, ARTICLE)
    ask = [r for r in check_support(summary, {1: ARTICLE}) if r.kind == "claim"]
    assert c.claims == len(ask) == 2
    assert c.unsupported == ("The bridge will cost 40 million pounds.",)  # a changed figure
    assert c.supported_share == 0.5
    assert c.mean_support == pytest.approx(np.mean([r.score for r in ask]), abs=1e-4)


def test_fragments_catch_a_swapped_relation_the_word_check_misses() -> None:
    swapped = "The mayor approved the new bridge on Monday."
    assert check_summary(swapped, ARTICLE).supported_share == 1.0  # every word is there
    faithful = fragment_support("The council approved the new bridge on Monday.", ARTICLE)
    assert fragment_support(swapped, ARTICLE) < faithful == 1.0
    assert fragment_support("", ARTICLE) == 0.0


def test_embedding_checks_need_an_embedder_and_cache_it() -> None:
    with pytest.raises(ConfigError, match="needs an embedder"):
        check_summary("A b c.", ARTICLE, support="combined")
    with pytest.raises(ConfigError, match="lexical, embedding, fragments, combined"):
        check_summary("A b c.", ARTICLE, support="magic")

    seen: list[str] = []

    class Counting(HashEmbedder):
        def embed_batch(self, texts):  # type: ignore[override]
            seen.extend(texts)
            return super().embed_batch(texts)

    inner = Counting(dim=32)
    emb = CachedEmbedder(inner)
    for support in ("embedding", "combined"):
        c = check_summary("The council approved the new bridge on Monday.", ARTICLE,
                          support=support, embedder=emb)
        assert c.claims == 1 and 0 <= c.mean_support <= 1.0001
    assert seen and len(seen) == len(set(seen))  # no text embedded twice


def _items(n_per_system: int = 12, seed: int = 0) -> list[FrankItem]:
    """Summaries whose share of copied sentences tracks their human factuality, plus a
    system offset in factuality that the partial correlation must remove."""
    rng = np.random.default_rng(seed)
    sents = [s + "." for s in ARTICLE.split(". ") if s]
    out = []
    for system, offset in (("sysA", 0.0), ("sysB", 0.3)):
        for i in range(n_per_system):
            good = int(rng.integers(0, 4))
            text = " ".join(sents[: min(good, 3)] + ["Aliens landed in the stadium yesterday."]
                            * (3 - min(good, 3)))
            gram = float(rng.choice([0.6, 1.0]))  # grammar errors the checker cannot see
            fact = 0.5 * min(good, 3) / 3 + 0.4 * gram + offset
            errors = {t: 1.0 for t in ERROR_TYPES}
            errors["OutE"], errors["GramE"] = min(good, 3) / 3, gram
            flipped = {t: fact for t in ERROR_TYPES}
            flipped["OutE"] = 0.5 + 0.4 * gram + offset  # Factuality ignoring OutE
            out.append(FrankItem(f"a{i}", system, "cnndm" if i % 2 else "bbc", text, ARTICLE,
                                 fact, errors, flipped,
                                 {key: (None if i == 0 else float(rng.random()))
                                  for key, _ in PUBLISHED.values()}))
    return out


def test_report_correlates_with_human_judgement_controlling_for_system() -> None:
    r = faithfulness_report(None, items=_items(), resamples=100)  # type: ignore[arg-type]
    assert r.summaries == 24 and r.support == "lexical"
    assert r.checker.pearson > 0.6 and r.checker.pearson_ci[0] < r.checker.pearson
    assert r.per_error_type["OutE"]["pearson"] > 0.99
    assert r.per_error_type["OutE"]["flip_delta"] < -0.5  # the checker sees out-of-article
    assert r.per_error_type["RelE"]["flip_delta"] == 0.0
    assert set(r.per_dataset) == {"bbc", "cnndm"}
    base = {b.name: b for b in r.baselines}
    assert base["FactCC"].n == 22  # missing outputs dropped, as FRANK does
    assert base["FactCC"].published is None  # published figures only for the full test split
    assert r.goal_met
    d = r.to_dict(with_records=True)
    assert d["goal"]["met"] and len(d["records"]) == 24
    assert "| RelE (relation error) |" in r.markdown()
    assert r.metrics()["checker.partial_pearson"] == pytest.approx(r.checker.pearson, abs=1e-6)


def test_limit_samples_and_bad_limit() -> None:
    r = faithfulness_report(None, items=_items(), limit=10, resamples=10)  # type: ignore[arg-type]
    assert r.summaries == 10
    with pytest.raises(ConfigError, match="at least 3"):
        faithfulness_report(None, items=_items(), limit=2)  # type: ignore[arg-type]


def test_correlation_with_too_few_items_is_nan_not_an_error() -> None:
    c = correlate("x", [1.0, None], [0.5, 0.7], ["a", "a"])
    assert c.n == 1 and c.to_dict()["pearson"] is None


def test_load_frank_joins_the_three_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="shared/datasets/frank_summarization"):
        load_frank(tmp_path)
    (tmp_path / "summaries.jsonl").write_text(json.dumps({
        "id": "h1", "dataset": "cnndm", "article": ARTICLE,
        "system_summaries": {"bart": "The council approved the bridge.", "pgn": "x"}}) + "\n")
    human = {"hash": "h1", "model_name": "bart", "dataset": "cnndm", "Factuality": 1.0,
             "split": "test", **{t: 1.0 for t in ERROR_TYPES},
             **{f"Flip_{t}": 1.0 for t in ERROR_TYPES}}
    (tmp_path / "human_annotations.json").write_text(json.dumps(
        [human, {**human, "model_name": "pgn", "split": "valid"}]))
    (tmp_path / "baseline_factuality_metrics_outputs.json").write_text(json.dumps(
        [{"hash": "h1", "model_name": "bart", "FactCC": 1.0, "FEQA": None}]))
    items = load_frank(tmp_path, "test")
    assert [(i.system, i.summary) for i in items] == [("bart", "The council approved the "
                                                                "bridge.")]
    assert items[0].baselines["FactCC"] == 1.0 and items[0].baselines["FEQA"] is None
    assert len(load_frank(tmp_path, "all")) == 2
    with pytest.raises(ConfigError, match="'test', 'valid' or 'all'"):
        load_frank(tmp_path, "train")


@pytest.mark.dataset
def test_published_partial_correlations_reproduce_on_the_test_split() -> None:
    items = load_frank(dataset("frank_summarization"), "test")
    assert len(items) == 1575
    human = [i.factuality for i in items]
    systems = [i.system for i in items]
    for _name, (key, published) in PUBLISHED.items():
        c = correlate(key, [i.baselines[key] for i in items], human, systems, resamples=0)
        assert round(c.pearson, 3) == pytest.approx(published, abs=0.0015), key
