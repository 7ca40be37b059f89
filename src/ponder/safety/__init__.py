"""Safety measurements: toxicity, group bias (BOLD), likelihood bias (CrowS-Pairs) and how far
the citation-support checker can be trusted as a hallucination detector (FRANK).

One entry point each, shared by the CLI (``ponder eval bias|stereotypes|faithfulness``,
``ponder toxicity``), the moderation step of chains and the server:

- ``toxicity(texts)`` → ``list[ToxicityScore]`` (``ponder.safety.toxic``)
- ``bias_report(folder, domain)`` → ``BiasReport`` (``ponder.safety.bias``)
- ``stereotype_report(folder)`` → ``StereotypeReport`` (``ponder.safety.stereotypes``)
- ``faithfulness_report(folder)`` → ``FaithfulnessReport`` (``ponder.safety.faithfulness``)

Names load lazily: ``import ponder.safety`` imports no model code.

>>> import ponder.safety as safety
>>> safety.split_pair("Women are bad drivers.", "Men are bad drivers.")
('', 'Women', 'Men', 'are bad drivers.')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "toxicity": "ponder.safety.toxic",
    "ToxicityScore": "ponder.safety.toxic",
    "bias_report": "ponder.safety.bias",
    "BiasReport": "ponder.safety.bias",
    "BoldPrompt": "ponder.safety.bias",
    "load_bold": "ponder.safety.bias",
    "stereotype_report": "ponder.safety.stereotypes",
    "StereotypeReport": "ponder.safety.stereotypes",
    "MinimalPair": "ponder.safety.stereotypes",
    "load_crows_pairs": "ponder.safety.stereotypes",
    "split_pair": "ponder.safety.stereotypes",
    "faithfulness_report": "ponder.safety.faithfulness",
    "FaithfulnessReport": "ponder.safety.faithfulness",
    "check_summary": "ponder.safety.faithfulness",
    "load_frank": "ponder.safety.faithfulness",
    "partial_corr": "ponder.safety.stats",
    "bootstrap_ci": "ponder.safety.stats",
    "permutation_gap": "ponder.safety.stats",
}

if TYPE_CHECKING:
    from ponder.safety.bias import BiasReport, BoldPrompt, bias_report, load_bold
    from ponder.safety.faithfulness import (
        FaithfulnessReport,
        check_summary,
        faithfulness_report,
        load_frank,
    )
    from ponder.safety.stats import bootstrap_ci, partial_corr, permutation_gap
    from ponder.safety.stereotypes import (
        MinimalPair,
        StereotypeReport,
        load_crows_pairs,
        split_pair,
        stereotype_report,
    )
    from ponder.safety.toxic import ToxicityScore, toxicity


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ponder.safety' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "BiasReport",
    "BoldPrompt",
    "FaithfulnessReport",
    "MinimalPair",
    "StereotypeReport",
    "ToxicityScore",
    "bias_report",
    "bootstrap_ci",
    "check_summary",
    "faithfulness_report",
    "load_bold",
    "load_crows_pairs",
    "load_frank",
    "partial_corr",
    "permutation_gap",
    "split_pair",
    "stereotype_report",
    "toxicity",
]
