"""Prompt building: templates that only fill variables, and defenses for untrusted text."""

from __future__ import annotations

from ponder.prompts.template import PromptTemplate

__all__ = ["PromptTemplate"]
