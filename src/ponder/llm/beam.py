"""Beam search (and stochastic beam search) over any model that returns logits.

The model is driven through ``BeamModel``: ``start()`` returns the logits after the prompt
(evaluated once and shared by every beam) and ``step(parents, tokens)`` extends hypothesis
``parents[i]`` by ``tokens[i]`` for each ``i`` and returns one row of logits per new
hypothesis. How the key/value cache follows the beams is the model's business (llama.cpp:
one KV sequence per beam, copied from its parent; transformers: the cache reordered).

At each step every live hypothesis is extended by every token; the ``2 × num_beams`` best
extensions by total log-probability are examined in order: an end-of-sequence token or a stop
string finishes a hypothesis, the others fill the ``num_beams`` places for the next step and
the rest are dropped. The search ends when ``num_beams`` hypotheses are finished and no live
one can beat them (Hugging Face's default heuristic), or after ``max_steps``. The winner
maximises ``total_logprob / length ** length_penalty``.

With ``sample_beams`` the extensions are *sampled* without replacement instead (Gumbel-top-k
over ``(total + logprob) / temperature`` within each beam's top-k/top-p set: stochastic
beam search, Kool et al. 2019), so repeated runs with different seeds explore different
hypotheses.

Greedy is myopic: here it takes "a" (0.6) and ends with 0.6 × 0.5 = 0.30, while beam search
finds "b c" (0.4 × 0.9 = 0.36):

>>> import numpy as np
>>> V = ["<eos>", "a", "b", "c", "d"]
>>> nxt = {None: [0, .6, .4, 0, 0], 1: [0, 0, 0, .5, .5], 2: [0, 0, 0, .9, .1],
...        3: [1, 0, 0, 0, 0], 4: [1, 0, 0, 0, 0]}
>>> class Table:
...     def __init__(self): self.beams = [None]
...     def row(self, last): return np.log(np.array(nxt[last]) + 1e-12)
...     def start(self): return self.row(None)
...     def step(self, parents, tokens):
...         self.beams = list(tokens)
...         return np.stack([self.row(t) for t in tokens])
>>> from ponder.llm.config import GenerationConfig
>>> r = beam_search(Table(), GenerationConfig(strategy="beam", num_beams=2).validate(),
...                 is_eog=lambda t: t == 0, max_steps=5)
>>> [V[t] for t in r.tokens], round(float(np.exp(r.score)), 2), r.finish_reason
(['b', 'c'], 0.36, 'stop')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ponder.llm.config import GenerationConfig
from ponder.llm.decoding import Decoder, sampling_distribution
from ponder.llm.explain import BeamNode, DecodingTrace


class BeamModel(Protocol):
    def start(self) -> np.ndarray:
        """Logits (vocabulary-sized) after the prompt."""

    def step(self, parents: Sequence[int], tokens: Sequence[int]) -> np.ndarray:
        """Extend hypothesis ``parents[i]`` by ``tokens[i]``; return ``(len(tokens), V)``."""


@dataclass
class Hypothesis:
    tokens: list[int]
    logprobs: list[float]
    score: float
    node: int = 0
    text: str = ""
    decoder: Decoder | None = None
    finished_by: str = ""

    def normalized(self, length_penalty: float) -> float:
        return self.score / (max(len(self.tokens), 1) ** length_penalty)


@dataclass
class BeamResult:
    """The winning hypothesis: token ids, per-token log-probabilities, total log-probability,
    why it ended (``stop`` or ``length``), and every finished hypothesis, best first."""

    tokens: list[int]
    logprobs: list[float]
    score: float
    finish_reason: str
    hypotheses: list[Hypothesis] = field(default_factory=list)


def beam_search(
    model: BeamModel,
    config: GenerationConfig,
    *,
    is_eog: Callable[[int], bool],
    max_steps: int,
    history: Sequence[int] = (),
    exempt: Sequence[int] = (),
    token_text: Callable[[int], str] | None = None,
    trace: DecodingTrace | None = None,
) -> BeamResult:
    """Run beam search; see the module docstring. ``history`` (the prompt's token ids) feeds
    the repetition penalty; ``token_text`` turns ids into text for stop strings and traces."""
    num_beams = config.num_beams or 1
    n_cand = 2 * num_beams
    stops = tuple(config.stop)
    piece = token_text or (lambda t: "")
    rng = np.random.default_rng(config.seed)
    lp_pen = config.length_penalty
    penalize = config.repetition_penalty != 1.0

    def new_decoder(parent: Decoder | None, token: int) -> Decoder | None:
        return None if parent is None else parent.fork(token)

    nodes: list[BeamNode] = []
    if trace is not None:
        nodes.append(BeamNode(0, None, -1, None, "", 0.0, 0.0, "root"))
    root = Decoder(config, history=history, exempt=exempt) if penalize else None
    live = [Hypothesis([], [], 0.0, 0, "", root)]
    finished: list[Hypothesis] = []
    logits = np.asarray(model.start())[None, :]
    for step in range(max_steps):
        x = np.asarray(logits, dtype=np.float32)
        if penalize:
            x = np.stack([h.decoder.penalize(row) if h.decoder is not None else row
                          for h, row in zip(live, x, strict=True)])
        # total log-probability of every extension, without materialising log_softmax:
        # total[b, t] = score[b] + x[b, t] - logsumexp(x[b])
        m = x.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(x - m).sum(axis=1, dtype=np.float64)).astype(np.float32)
        totals = x + (np.array([h.score for h in live], dtype=np.float32) - lse)[:, None]
        flat_totals = totals.ravel()
        if config.sample_beams and config.temperature > 0:
            keys = np.full(totals.shape, -np.inf)
            for b in range(len(live)):
                ids, _ = sampling_distribution(
                    x[b], temperature=config.temperature, top_k=config.top_k, top_p=config.top_p
                )
                keys[b, ids] = totals[b, ids] / config.temperature
            keys = keys + rng.gumbel(size=keys.shape)
            flat = keys.ravel()
            pick = _top_k(flat, min(n_cand, int(np.isfinite(flat).sum()) or 1))
        else:
            pick = _top_k(flat_totals, n_cand)
        pick = pick[np.lexsort((pick, -flat_totals[pick]))]  # best first, ties by index
        vocab = totals.shape[1]
        next_live: list[Hypothesis] = []
        parents: list[int] = []
        for idx in pick.tolist():
            b, tok = divmod(idx, vocab)
            parent = live[b]
            lp = float(x[b, tok] - lse[b])
            score = float(live[b].score) + lp
            status = "dropped"
            if is_eog(tok):
                hyp = Hypothesis(parent.tokens, parent.logprobs, score, parent.node, parent.text)
                hyp.finished_by = "eos"
                finished.append(hyp)
                status = "finished"
            else:
                text = parent.text + piece(tok)
                hyp = Hypothesis([*parent.tokens, tok], [*parent.logprobs, lp], score,
                                 parent.node, text)
                if stops and any(s in text for s in stops):
                    hyp.finished_by = "stop"
                    finished.append(hyp)
                    status = "finished"
                elif len(next_live) < num_beams:
                    hyp.decoder = new_decoder(parent.decoder, tok)
                    next_live.append(hyp)
                    parents.append(b)
                    status = "kept"
            if trace is not None:
                node = BeamNode(len(nodes), parent.node, step, tok, piece(tok), lp, score, status)
                nodes.append(node)
                if status != "dropped":
                    hyp.node = node.id
        finished.sort(key=lambda h: -h.normalized(lp_pen))
        del finished[num_beams:]
        if not next_live:
            live = []
            break
        if len(finished) >= num_beams:
            best_live = max(h.score for h in next_live) / (
                max(len(next_live[0].tokens), 1) ** lp_pen
            )
            if best_live <= finished[-1].normalized(lp_pen):
                live = []
                break
        live = next_live
        if step + 1 < max_steps:
            logits = np.asarray(model.step(parents, [h.tokens[-1] for h in live]))
    candidates = finished + live
    if not candidates:  # pragma: no cover - the first step always yields a candidate
        return BeamResult([], [], 0.0, "stop")
    candidates.sort(key=lambda h: -h.normalized(lp_pen))
    best = candidates[0]
    finish = "stop" if best.finished_by else "length"
    if trace is not None:
        by_id = {n.id: n for n in nodes}
        nid: int | None = best.node
        while nid is not None and nid in by_id and by_id[nid].status != "root":
            by_id[nid].status = "best"
            nid = by_id[nid].parent
        trace.beam_nodes = nodes
    return BeamResult(best.tokens, best.logprobs, best.score, finish, candidates)


def _top_k(flat: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values; ties at the boundary go to the lowest indices
    (so one beam reproduces greedy's ``argmax`` exactly)."""
    if k >= len(flat):
        return np.arange(len(flat))
    part = np.argpartition(flat, -k)[-k:]
    threshold = flat[part].min()
    if np.count_nonzero(flat == threshold) == 1:
        return part
    above = np.flatnonzero(flat > threshold)
    equal = np.flatnonzero(flat == threshold)[: k - len(above)]
    return np.concatenate([above, equal])


__all__ = ["BeamModel", "BeamResult", "Hypothesis", "beam_search"]
