"""Beam search on tiny deterministic table models where greedy is myopic."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from ponder.llm.beam import beam_search
from ponder.llm.config import GenerationConfig
from ponder.llm.explain import DecodingTrace
from ponder.llm.fake import ToyLanguageModel

# Greedy takes "a" (0.5) but every continuation of "a" is poor (0.25 each);
# "b" (0.45) is followed by "c" with 0.95: beam search must find "b c".
MYOPIC = {
    "<s>": {" a": 0.5, " b": 0.45, " z": 0.05},
    " a": {" w": 0.25, " x": 0.25, " y": 0.25, " c": 0.25},
    " b": {" c": 0.95, " y": 0.05},
    " c": {"<eos>": 1.0},
    " w": {"<eos>": 1.0},
    " x": {"<eos>": 1.0},
    " y": {"<eos>": 1.0},
    " z": {"<eos>": 1.0},
}


class PathTable:
    """A model whose next-token distribution depends on the whole path (a trie), recording
    how the beam search drives it, to check the parent bookkeeping a KV cache relies on."""

    def __init__(self, table: dict[tuple[int, ...], list[float]], vocab: int) -> None:
        self.table = table
        self.vocab = vocab
        self.paths: list[tuple[int, ...]] = [()]
        self.calls: list[tuple[list[int], list[int]]] = []

    def row(self, path: tuple[int, ...]) -> np.ndarray:
        p = np.asarray(self.table.get(path, [1.0] + [0.0] * (self.vocab - 1)), dtype=float)
        return np.log(p + 1e-12)

    def start(self) -> np.ndarray:
        return self.row(())

    def step(self, parents: Sequence[int], tokens: Sequence[int]) -> np.ndarray:
        assert all(0 <= p < len(self.paths) for p in parents)
        self.calls.append((list(parents), list(tokens)))
        self.paths = [self.paths[p] + (t,) for p, t in zip(parents, tokens, strict=True)]
        return np.stack([self.row(p) for p in self.paths])


def test_beam_finds_higher_total_logprob_than_myopic_greedy() -> None:
    g = ToyLanguageModel(MYOPIC)
    greedy = g.complete("", raw=True, max_new_tokens=5)
    beam = g.complete("", raw=True, strategy="beam", num_beams=2, max_new_tokens=5)
    assert greedy.text == " a w"
    assert beam.text == " b c"
    assert beam.logprob > greedy.logprob
    assert g.sequence_logprob("", beam.text) > g.sequence_logprob("", greedy.text)
    assert beam.finish_reason == "stop"


def test_one_beam_is_greedy() -> None:
    g = ToyLanguageModel(MYOPIC)
    one = g.complete("", strategy="beam", num_beams=1, max_new_tokens=5)
    assert one.text == g.complete("", max_new_tokens=5).text


def test_parents_index_the_previous_step_and_kv_paths_match_hypotheses() -> None:
    # vocab: 0=eos, 1..3; path-dependent probabilities
    table = {
        (): [0, 0.5, 0.3, 0.2],
        (1,): [0, 0.1, 0.1, 0.8],
        (2,): [0, 0.9, 0.05, 0.05],
        (3,): [0, 0.34, 0.33, 0.33],
        (1, 3): [1, 0, 0, 0],
        (2, 1): [1, 0, 0, 0],
    }
    m = PathTable(table, 4)
    cfg = GenerationConfig(strategy="beam", num_beams=3, length_penalty=0.0).validate()
    r = beam_search(m, cfg, is_eog=lambda t: t == 0, max_steps=4)
    assert r.tokens == [1, 3]  # 0.5 * 0.8 = 0.40 beats 0.3 * 0.9 = 0.27
    assert r.score == pytest.approx(np.log(0.4), abs=1e-6)
    first_parents, first_tokens = m.calls[0]
    assert first_parents == [0, 0, 0]  # every beam starts from the shared prompt
    assert sorted(first_tokens) == [1, 2, 3]


def test_finished_hypotheses_are_ranked_with_length_penalty() -> None:
    # "x" ends at once (p=0.4); "y" goes on with a long, likely tail
    table = {
        "<s>": {" x": 0.55, " y": 0.45},
        " x": {"<eos>": 1.0},
        " y": {" y2": 0.9, "<eos>": 0.1},
        " y2": {" y3": 0.9, "<eos>": 0.1},
        " y3": {"<eos>": 1.0},
    }
    g = ToyLanguageModel(table)
    short = g.complete("", strategy="beam", num_beams=2, length_penalty=0.0, max_new_tokens=6)
    long = g.complete("", strategy="beam", num_beams=2, length_penalty=2.0, max_new_tokens=6)
    assert short.text == " x"  # p(x) = 0.55 > p(y y2 y3) = 0.45 * 0.9 * 0.9 = 0.36
    assert g.sequence_logprob("", " x") > g.sequence_logprob("", " y y2 y3")
    assert long.text == " y y2 y3"  # a strong length penalty favours the longer answer


def test_stop_string_finishes_a_hypothesis() -> None:
    g = ToyLanguageModel()
    c = g.complete("the", strategy="beam", num_beams=2, stop=[" bark"], max_new_tokens=5)
    assert c.text == " dog"
    assert c.finish_reason == "stop"


def test_stochastic_beams_are_seeded_and_explore() -> None:
    g = ToyLanguageModel()
    runs = {
        seed: g.complete("the", strategy="beam", num_beams=1, sample_beams=True,
                         temperature=1.0, seed=seed, max_new_tokens=4).text
        for seed in range(12)
    }
    again = g.complete("the", strategy="beam", num_beams=1, sample_beams=True,
                       temperature=1.0, seed=3, max_new_tokens=4).text
    assert again == runs[3]
    assert len(set(runs.values())) > 1  # sampling explores more than one hypothesis
    assert set(runs.values()) <= {" cat sat", " cat ran", " cat", " dog barked", " dog",
                                  " cat sat.", " cat ran.", " dog barked."}


def test_sample_strategy_with_beams_is_stochastic_beam_search() -> None:
    g = ToyLanguageModel()
    a = g.complete("the", strategy="sample", num_beams=2, seed=5, max_new_tokens=4)
    b = g.complete("the", strategy="sample", num_beams=2, seed=5, max_new_tokens=4)
    assert a.text == b.text and a.config is not None and a.config.sample_beams


def test_trace_marks_kept_dropped_finished_and_best() -> None:
    g = ToyLanguageModel()
    stream = g.generate("the", strategy="beam", num_beams=2, max_new_tokens=4, explain=True)
    text = "".join(t.text for t in stream)
    trace = stream.trace
    assert isinstance(trace, DecodingTrace)
    statuses = {n.status for n in trace.beam_nodes}
    assert {"root", "best", "dropped", "finished"} <= statuses
    best = [n for n in trace.beam_nodes if n.status == "best"]
    assert "".join(n.text for n in best) == text
    assert "dog" in trace.to_html()


def test_repetition_penalty_applies_per_beam() -> None:
    table = {"<s>": {" go": 1.0}, " go": {" go": 0.6, " stop": 0.4}, " stop": {"<eos>": 1.0}}
    g = ToyLanguageModel(table)
    plain = g.complete("", strategy="beam", num_beams=2, max_new_tokens=4, length_penalty=0.0)
    penal = g.complete("", strategy="beam", num_beams=2, max_new_tokens=4, length_penalty=0.0,
                       repetition_penalty=3.0)
    assert plain.text == " go stop"
    assert penal.text == " go stop"
    # penalising the repeat of " go" makes " stop" (the second token) more likely
    assert penal.tokens[1].logprob > plain.tokens[1].logprob
