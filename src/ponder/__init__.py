"""Ponder: a local-first toolkit for LLM applications."""

from __future__ import annotations

__version__ = "0.1.0"
