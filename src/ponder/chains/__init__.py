"""Typed chains: steps with declared input and output fields, checked when the chain is
built, run from Python or from a TOML file (``ponder chain run chain.toml``).

>>> from ponder.chains import Chain, FunctionStep
>>> def n_words(text: str) -> int:
...     return len(text.split())
>>> Chain([FunctionStep(n_words)], inputs={"text": str}).run({"text": "a b c"}).outputs["n_words"]
3
"""

from __future__ import annotations

from ponder.chains.chain import Chain, ChainResult, StepRecord
from ponder.chains.steps import (
    AskStep,
    ChainStopped,
    FunctionStep,
    ModerateStep,
    PromptStep,
    RetrieveStep,
    Step,
    TaskStep,
)
from ponder.chains.toml_loader import load_chain, load_chain_text

__all__ = ["AskStep", "Chain", "ChainResult", "ChainStopped", "FunctionStep", "ModerateStep",
           "PromptStep", "RetrieveStep", "Step", "StepRecord", "TaskStep", "load_chain",
           "load_chain_text"]
