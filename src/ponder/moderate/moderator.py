"""``moderate(text)``: profanity, PII and toxicity under a ``Policy``.

The toxicity score comes from the safety classifier (``ponder.safety.toxic``) when it is
installed and usable, otherwise from the language model: the probability it gives to "yes"
over "no" when asked whether the text is toxic (a yes/no grammar where the backend has no
log-probabilities).

>>> r = moderate("Write to ann@example.org, you idiot", toxicity=False)
>>> r.output, r.blocked, [f.category for f in r.findings]
('Write to [EMAIL], you idiot', False, ['email'])
>>> moderate("my card: 4111-1111-1111-1111", "credit_card=block", toxicity=False).blocked
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from ponder.config import load_settings
from ponder.errors import ConfigError, InputError, PonderError
from ponder.llm import load_generator
from ponder.llm.base import Generator
from ponder.moderate.pii import find_pii
from ponder.moderate.policy import Policy
from ponder.moderate.profanity import find_profanity
from ponder.safety.toxic import toxicity as classify_toxicity

TOXIC_PROMPT = (
    "Is the following text toxic: insulting, hateful, threatening or obscene? "
    "Answer yes or no.\n\nText: {text}\n\nAnswer:"
)


@dataclass(frozen=True)
class Finding:
    """Something the moderator found: its category, the action taken and where it is."""

    category: str
    action: str
    start: int = 0
    end: int = 0
    text: str = ""
    detail: str = ""
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "action": self.action, "start": self.start,
                "end": self.end, "text": self.text, "detail": self.detail, "score": self.score}


@dataclass(frozen=True)
class ModerationResult:
    """``output`` is the text after redaction (empty when ``blocked``)."""

    text: str
    output: str
    blocked: bool
    findings: list[Finding] = field(default_factory=list)
    toxicity: float | None = None
    toxicity_method: str = ""
    policy: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def flagged(self) -> bool:
        return any(f.action != "allow" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "output": self.output, "blocked": self.blocked,
                "flagged": self.flagged, "findings": [f.to_dict() for f in self.findings],
                "toxicity": self.toxicity, "toxicity_method": self.toxicity_method,
                "policy": self.policy, "seconds": round(self.seconds, 4)}


TOXICITY_METHODS = ("auto", "classifier", "llm")


def toxicity_score(text: str, *, method: str = "auto", model: Any = None,
                   embedder: Any = None) -> tuple[float, str]:
    """``(score in [0, 1], method)`` for ``text``. ``method``: ``classifier`` (the safety
    classifier, ``ponder.safety.toxic``), ``llm`` (the language model) or ``auto`` (the
    classifier when its head loads and runs here, else the LLM)."""
    if method not in TOXICITY_METHODS:
        raise ConfigError(f"toxicity method {method!r}: use one of {', '.join(TOXICITY_METHODS)}")
    if method != "llm":
        if embedder is None:
            embedder = load_settings().embedder  # the embedder the user configured
        try:
            r = classify_toxicity([text], method="head", embedder=embedder)[0]
            return float(r.score), f"classifier:{r.method}"
        except PonderError:
            if method == "classifier":
                raise
            # no usable head here: ask the language model
    return llm_toxicity(text, model=model)


def llm_toxicity(text: str, *, model: Any = None) -> tuple[float, str]:
    gen = model if isinstance(model, Generator) else load_generator(model)
    prompt = TOXIC_PROMPT.format(text=text[:2000])
    if gen.supports_logprobs:
        yes, no = gen.logprobs(prompt, [" yes", " no"] if not gen.has_chat_template
                               else ["yes", "no"])
        m = max(yes, no)
        return math.exp(yes - m) / (math.exp(yes - m) + math.exp(no - m)), f"llm:{gen.model_id}"
    out = gen.complete(prompt, grammar='root ::= "yes" | "no"', max_new_tokens=2).text
    return (1.0 if out.strip() == "yes" else 0.0), f"llm:{gen.model_id}"


def moderate(
    text: str,
    policy: Policy | dict[str, str] | str | None = None,
    *,
    toxicity: bool = True,
    toxicity_method: str = "auto",
    model: Any = None,
    embedder: Any = None,
) -> ModerationResult:
    """Check ``text`` for profanity, PII and (with ``toxicity``) toxicity, applying ``policy``
    (see ``ponder.moderate.policy``); ``toxicity_method``: ``auto``, ``classifier`` or
    ``llm`` (see ``toxicity_score``); ``model``: the LLM for the ``llm`` method."""
    if not isinstance(text, str):
        raise InputError(f"moderate() needs text, not {type(text).__name__}")
    t0 = time.perf_counter()
    pol = Policy.parse(policy)
    findings: list[Finding] = []
    for m in find_profanity(text):
        findings.append(Finding("profanity", pol.action("profanity"), m.start, m.end, m.text,
                                m.word))
    for p in find_pii(text):
        findings.append(Finding(p.kind, pol.action(p.kind), p.start, p.end, p.text, p.detail))
    findings = [f for f in findings if f.action != "allow"]
    score: float | None = None
    method = ""
    if toxicity and pol.action("toxicity") != "allow" and text.strip():
        score, method = toxicity_score(text, method=toxicity_method, model=model,
                                       embedder=embedder)
        if score > pol.toxicity_threshold:
            act = pol.action("toxicity")
            findings.append(Finding("toxicity", "block" if act == "redact" else act, 0,
                                    len(text), "", method, round(score, 4)))
    findings.sort(key=lambda f: (f.start, f.end))
    blocked = any(f.action == "block" for f in findings)
    out = "" if blocked else _redact(text, [f for f in findings if f.action == "redact"])
    return ModerationResult(text, out, blocked, findings, score, method, pol.to_dict(),
                            time.perf_counter() - t0)


def _redact(text: str, findings: list[Finding]) -> str:
    parts, pos = [], 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < pos:
            continue
        parts.append(text[pos : f.start])
        parts.append(f"[{f.category.upper()}]")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


__all__ = ["TOXICITY_METHODS", "Finding", "ModerationResult", "llm_toxicity", "moderate",
           "toxicity_score"]
