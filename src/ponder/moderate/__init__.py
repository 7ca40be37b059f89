"""Moderation: profanity, PII (with checksums) and toxicity, under a per-category policy.

>>> from ponder.moderate import moderate
>>> moderate("ping me at 192.168.1.20", toxicity=False).output
'ping me at [IP_ADDRESS]'
"""

from __future__ import annotations

from ponder.moderate.moderator import Finding, ModerationResult, moderate, toxicity_score
from ponder.moderate.pii import KINDS, PIIMatch, find_pii, redact
from ponder.moderate.policy import ACTIONS, CATEGORIES, Policy
from ponder.moderate.profanity import find_profanity

__all__ = ["ACTIONS", "CATEGORIES", "KINDS", "Finding", "ModerationResult", "PIIMatch",
           "Policy", "find_pii", "find_profanity", "moderate", "redact", "toxicity_score"]
