"""The answer-chain registry: a registered chain answers through ``ask`` like a built-in one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from ponder.errors import ConfigError
from ponder.llm.fake import ScriptedGenerator
from ponder.rag import CHAINS, AskConfig, answer_from_hits
from ponder.rag.chains import (
    ChainContext,
    ChainRun,
    register_chain,
    run_chain,
    stuff,
    unregister_chain,
)
from ponder.rag.packing import PreparedHit
from ponder.types import Chunk, Hit

HITS = [
    Hit(Chunk("c0", "d0", "Alpha: the alpha river is long.", source="a.txt"), 0.9, 1),
    Hit(Chunk("c1", "d1", "Beta: the beta mountain is tall.", source="b.txt"), 0.8, 2),
]


def last_only(ctx: ChainContext, items: Sequence[PreparedHit]) -> ChainRun:
    """Answers from the lowest-ranked source alone."""
    run = stuff(ctx, items[-1:])
    run.steps.append({"step": "last_only", "kept": [p.hit.chunk.id for p in items[-1:]]})
    return run


@pytest.fixture
def registered() -> Iterator[str]:
    register_chain("last_only", last_only)
    yield "last_only"
    if "last_only" in CHAINS:
        unregister_chain("last_only")


def test_builtin_chains_are_registered():
    assert list(CHAINS)[:4] == ["stuff", "map_reduce", "refine", "map_rerank"]


def test_a_registered_chain_answers_through_ask(registered: str):
    assert registered in CHAINS
    assert AskConfig(chain=registered).chain == "last_only"  # the options accept it
    g = ScriptedGenerator(["The beta mountain is tall [1]."])
    a = answer_from_hits("How tall is beta?", HITS, model=g, chain=registered)
    assert a.chain == "last_only" and len(g.calls) == 1
    assert "alpha" not in str(g.calls[0]).lower()  # only the last source was sent
    assert [c.chunk_id for c in a.citations] == ["c1"]


def test_unknown_and_unregistered_chains_are_clear_errors(registered: str):
    unregister_chain(registered)
    with pytest.raises(ConfigError, match=r"unknown chain 'last_only'; choose one of stuff"):
        answer_from_hits("q?", HITS, model=ScriptedGenerator(["x"]), chain="last_only")
    with pytest.raises(ConfigError, match="unknown chain 'last_only'"):
        unregister_chain("last_only")


def test_bad_registrations_are_refused():
    with pytest.raises(ConfigError, match="already registered; pass replace=True"):
        register_chain("stuff", last_only)
    with pytest.raises(ConfigError, match="use lower-case letters"):
        register_chain("Last Only", last_only)
    with pytest.raises(ConfigError, match="must be callable"):
        register_chain("nothing", None)  # type: ignore[arg-type]
    assert "nothing" not in CHAINS


def test_a_chain_returning_the_wrong_type_is_named():
    register_chain("sloppy", lambda ctx, items: "just text")  # type: ignore[arg-type,return-value]
    try:
        with pytest.raises(ConfigError, match="chain 'sloppy' returned str, not a ChainRun"):
            answer_from_hits("q?", HITS, model=ScriptedGenerator(["x"]), chain="sloppy")
    finally:
        unregister_chain("sloppy")
    with pytest.raises(ConfigError, match="unknown chain 'sloppy'"):
        run_chain("sloppy", None, [])  # type: ignore[arg-type]
