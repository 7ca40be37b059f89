"""Contrastive fine-tuning of the real all-MiniLM-L6-v2 on a few pairs, then the folder used as
``--embedder DIR`` for a new collection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from ponder.embed import load_embedder
from ponder.finetune.embedder import EmbedderTrainConfig, Pair, train_embedder
from ponder.store.collection import Collection

pytestmark = pytest.mark.integration

PAIRS = [Pair("zorblat protein", "Quantum lattices of glass fibres."),
         Pair("flimwick enzyme", "Medieval trade routes of Venice."),
         Pair("grontle receptor", "Volcanic soils of Iceland."),
         Pair("snazzer kinase", "The rules of cricket explained.")]


def test_finetuned_folder_is_an_embedder_and_learned_the_pairs(tmp_path: Path,
                                                               home: Path) -> None:
    out = tmp_path / "emb"
    res = train_embedder(PAIRS, out, config=EmbedderTrainConfig(
        epochs=3, batch_size=4, lr=2e-4, max_seq_length=32, threads=2, bf16="off"))
    assert res.steps == 3 and res.model_id.startswith("all-MiniLM-L6-v2-ft-")
    base, tuned = load_embedder("minilm-torch"), load_embedder(str(out))
    assert tuned.model_id == res.model_id and tuned.dim == 384

    def margin(e: object) -> float:
        q = e.embed([p.query for p in PAIRS])  # type: ignore[attr-defined]
        d = e.embed([p.positive for p in PAIRS])  # type: ignore[attr-defined]
        s = q @ d.T
        return float(np.mean(np.diag(s)) - np.mean(s[~np.eye(len(PAIRS), dtype=bool)]))

    assert margin(tuned) > margin(base)
    with Collection.create("ft", home=home, embedder=str(out)) as c:
        c.add(ids=["a", "b"], texts=[PAIRS[0].positive, PAIRS[1].positive])
        assert c.model_id == res.model_id
        assert c.search("zorblat protein", k=1)[0].chunk.id == "a"
    with Collection.open("ft", home=home) as c:  # reopened: the folder embedder again
        assert c.search("flimwick enzyme", k=1)[0].chunk.id == "b"
