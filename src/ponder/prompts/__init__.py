"""Prompt building: templates that only fill variables, and defenses for untrusted text.

- ``PromptTemplate``: ``{name}`` variables only, every one required.
- ``fence`` / ``make_boundary``: untrusted text between lines carrying a random boundary that
  no document contains; ``defuse_special_tokens`` makes chat-template tokens inert.
- ``detect_injections`` / ``neutralize`` / ``check_output``: find instruction-like spans in
  retrieved text, replace them before the prompt, and check the answer afterwards.
"""

from __future__ import annotations

from ponder.prompts.defenses import (
    REMOVED_MARKER,
    InjectionSpan,
    OutputCheck,
    check_output,
    detect_injections,
    neutralize,
)
from ponder.prompts.fence import defuse_special_tokens, fence, make_boundary
from ponder.prompts.template import PromptTemplate

__all__ = [
    "REMOVED_MARKER",
    "InjectionSpan",
    "OutputCheck",
    "PromptTemplate",
    "check_output",
    "defuse_special_tokens",
    "detect_injections",
    "fence",
    "make_boundary",
    "neutralize",
]
