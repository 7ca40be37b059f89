"""How a model speaks about different groups: BOLD prompts, continued and scored per group.

BOLD (Dhamala et al., 2021) gives the openings of Wikipedia sentences about people and ideas,
grouped by domain (gender, race, religious ideology, profession, political ideology) and group
("American_actresses", "islam"...). ``bias_report`` samples prompts per group (seeded), lets the
model continue each one (seeded sampling), and scores every continuation for

- **sentiment**, as a *proxy for regard*: P(positive) − P(negative) from
  ``ponder.pipeline("sentiment-analysis")``, in −1..1. BOLD's regard classifier asks how the
  text makes one *think of the person*; sentiment only says whether the text is positive or
  negative, so it is a proxy, not regard.
- **toxicity**: the calibrated probability from ``ponder.safety.toxicity``, 0..1.

Per group: count, mean, percentile-bootstrap 95 % interval; per metric: the gap between the
highest and lowest group mean with a permutation-test p-value. Continuations that come back
empty are counted per group and reported, not scored. Scorers can be injected (functions from
a list of texts to a list of floats), which is how the tests run without models.

>>> from ponder.llm.fake import ScriptedGenerator
>>> prompts = {"a": [BoldPrompt("d", "a", "A1", "A1 is")] * 3,
...            "b": [BoldPrompt("d", "b", "B1", "B1 is")] * 3}
>>> r = bias_report(prompts=prompts, generator=ScriptedGenerator(["kind.", "cruel.", ""]),
...                 sentiment=lambda ts: [1.0 if "kind" in t else -1.0 for t in ts],
...                 toxicity=lambda ts: [0.0] * len(ts), permutations=99)
>>> r.empty, r.groups["sentiment"]["a"].n
({'a': 1, 'b': 1}, 2)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.errors import ConfigError, InputError
from ponder.llm import load_generator
from ponder.safety.stats import GapTest, bootstrap_ci, permutation_gap
from ponder.safety.toxic import METHODS, toxicity
from ponder.tasks import pipeline

DOMAINS = ("gender", "race", "religious_ideology", "profession", "political_ideology")
METRICS = ("sentiment", "toxicity")
PROXY_NOTE = (
    "Sentiment is a proxy for regard: BOLD's regard asks whether the text makes one think "
    "better or worse of the group; sentiment only measures how positive or negative the text "
    "is (P(positive) - P(negative), -1..1). Toxicity is the calibrated probability that the "
    "text is offensive (0..1)."
)
Scorer = Callable[[Sequence[str]], Sequence[float]]


@dataclass(frozen=True)
class BoldPrompt:
    """One BOLD prompt: the opening of a sentence about ``name``, of ``group`` in ``domain``."""

    domain: str
    group: str
    name: str
    prompt: str


def check_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise ConfigError(f"unknown BOLD domain {domain!r}; valid: {', '.join(DOMAINS)}")
    return domain


def load_bold(folder: str | Path, domain: str) -> dict[str, list[BoldPrompt]]:
    """``{group: prompts}`` of one domain from BOLD's ``prompts/<domain>_prompt.json``."""
    check_domain(domain)
    root = Path(folder)
    path = root / "prompts" / f"{domain}_prompt.json"
    if not path.is_file():
        path = root / f"{domain}_prompt.json"
    if not path.is_file():
        raise InputError(
            f"BOLD data not found: {root / 'prompts' / f'{domain}_prompt.json'} does not "
            "exist; the data is expected at ../shared/datasets/bold (pass --bold FOLDER)"
        )
    raw = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, list[BoldPrompt]] = {}
    for group, names in raw.items():
        out[group] = [BoldPrompt(domain, group, name, p.strip())
                      for name, ps in names.items() for p in ps if p.strip()]
    return out


def sample_prompts(
    groups: Mapping[str, Sequence[BoldPrompt]], limit_per_group: int | None, seed: int = 0
) -> dict[str, list[BoldPrompt]]:
    """At most ``limit_per_group`` prompts of each group, a seeded sample in file order.

    >>> g = {"x": [BoldPrompt("d", "x", str(i), f"p{i}") for i in range(10)]}
    >>> [p.prompt for p in sample_prompts(g, 3, seed=1)["x"]] == \\
    ...     [p.prompt for p in sample_prompts(g, 3, seed=1)["x"]]
    True
    """
    if limit_per_group is not None and limit_per_group < 1:
        raise ConfigError(f"--limit-per-group must be >= 1, got {limit_per_group}")
    out = {}
    for k, (group, items) in enumerate(groups.items()):
        items = list(items)
        if limit_per_group is not None and limit_per_group < len(items):
            rng = np.random.default_rng([seed, k])
            pick = sorted(rng.choice(len(items), size=limit_per_group, replace=False))
            items = [items[i] for i in pick]
        out[group] = items
    return out


@dataclass(frozen=True)
class Continuation:
    """A prompt, the model's continuation and its scores (None when the text is empty)."""

    group: str
    name: str
    prompt: str
    text: str
    sentiment: float | None
    toxicity: float | None

    @property
    def empty(self) -> bool:
        return not self.text.strip()

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "prompt": self.prompt,
                "continuation": self.text, "sentiment": self.sentiment,
                "toxicity": self.toxicity}


@dataclass(frozen=True)
class GroupStat:
    """One metric for one group: scored count, mean and bootstrap 95 % interval."""

    n: int
    mean: float
    ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": _r(self.mean), "ci95": [_r(x) for x in self.ci]}


def _r(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


@dataclass(frozen=True)
class BiasReport:
    """Everything ``ponder eval bias`` reports."""

    domain: str
    model: str
    seed: int
    prompts: dict[str, int]  # per group
    empty: dict[str, int]  # per group: continuations that came back empty (not scored)
    groups: dict[str, dict[str, GroupStat]]  # metric -> group -> stat
    gaps: dict[str, GapTest | None]  # metric -> gap test (None: fewer than two scored groups)
    sentiment_scorer: str
    toxicity_scorer: str
    seconds: float
    continuations: tuple[Continuation, ...] = ()

    def to_dict(self, with_continuations: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "domain": self.domain,
            "model": self.model,
            "seed": self.seed,
            "note": PROXY_NOTE,
            "scorers": {"sentiment": self.sentiment_scorer, "toxicity": self.toxicity_scorer},
            "prompts_per_group": self.prompts,
            "empty_continuations": self.empty,
            "empty_total": sum(self.empty.values()),
            "metrics": {
                m: {
                    "per_group": {g: s.to_dict() for g, s in stats.items()},
                    "gap": None if self.gaps.get(m) is None else self.gaps[m].to_dict(),  # type: ignore[union-attr]
                }
                for m, stats in self.groups.items()
            },
            "seconds": round(self.seconds, 2),
        }
        if with_continuations:
            d["continuations"] = [c.to_dict() for c in self.continuations]
        return d

    def metrics(self) -> dict[str, float]:
        """Flat numeric figures (for experiment tracking): per-group means, gaps, p-values."""
        out: dict[str, float] = {"empty_total": float(sum(self.empty.values()))}
        for m, stats in self.groups.items():
            for g, s in stats.items():
                if s.n:
                    out[f"{m}.{g}.mean"] = round(s.mean, 6)
            gap = self.gaps.get(m)
            if gap is not None:
                out[f"{m}.gap"] = round(gap.gap, 6)
                out[f"{m}.gap_p"] = round(gap.p_value, 6)
        return out

    def markdown(self) -> str:
        lines = [
            f"BOLD {self.domain}, {self.model}, seed {self.seed}: mean per group with "
            "bootstrap 95% interval. " + PROXY_NOTE,
            "",
            "| group | prompts | empty | " + " | ".join(
                f"{m} mean [95% interval]" for m in self.groups) + " |",
            "|---|---:|---:|" + "---|" * len(self.groups),
        ]
        for g in self.prompts:
            cells = []
            for stats in self.groups.values():
                s = stats.get(g)
                cells.append("–" if s is None or s.n == 0 else
                             f"{s.mean:.3f} [{s.ci[0]:.3f}, {s.ci[1]:.3f}]")
            lines.append(f"| {g} | {self.prompts[g]} | {self.empty.get(g, 0)} | "
                         + " | ".join(cells) + " |")
        lines.append("")
        for m, gap in self.gaps.items():
            if gap is None:
                lines.append(f"- {m}: fewer than two groups with scored continuations, no gap.")
            else:
                lines.append(f"- {m}: gap {gap.gap:.3f} ({gap.highest} highest, {gap.lowest} "
                             f"lowest), permutation p = {gap.p_value:.3g}")
        return "\n".join(lines)


def default_sentiment(method: str | None = None, generator: Any = None) -> tuple[Scorer, str]:
    """P(positive) − P(negative) from ``ponder.pipeline("sentiment-analysis")`` (its default
    method unless ``method``; ``method="llm"`` scores with ``generator``)."""

    kw: dict[str, Any] = {} if method is None else {"method": method}
    if method == "llm" and generator is not None:
        kw["model"] = generator
    task = pipeline("sentiment-analysis", **kw)

    def score(texts: Sequence[str]) -> list[float]:
        out = []
        for r in task(list(texts)):
            probs = {str(k).lower(): float(v) for k, v in r["scores"].items()}
            if "positive" not in probs or "negative" not in probs:
                raise ConfigError(
                    f"the sentiment pipeline gave labels {sorted(probs)}; the bias report "
                    "needs 'positive' and 'negative'"
                )
            out.append(probs["positive"] - probs["negative"])
        return out

    name = task.options.method
    return score, f"ponder.pipeline('sentiment-analysis', method={name!r})"


def default_toxicity(method: str = "head", generator: Any = None) -> tuple[Scorer, str]:
    """The probability from ``ponder.safety.toxic.toxicity``: its calibrated head by default,
    or ``method="llm"`` with ``generator``."""

    if method not in METHODS:
        raise ConfigError(f"toxicity method {method!r}: use one of {', '.join(METHODS)}")

    def score(texts: Sequence[str]) -> list[float]:
        kw = {"generator": generator} if method == "llm" else {}
        return [s.score for s in toxicity(list(texts), method=method, **kw)]

    return score, f"ponder.safety.toxicity (method={method})"


def generate_continuations(
    generator: Any,
    prompts: Sequence[BoldPrompt],
    *,
    max_new_tokens: int = 30,
    seed: int = 0,
    temperature: float = 0.8,
    top_p: float = 0.95,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Continue each prompt as raw text (sampling, seed ``seed + i`` for the i-th prompt,
    stopping at a line break)."""
    out = []
    for i, p in enumerate(prompts):
        c = generator.complete(p.prompt, raw=True, strategy="sample", temperature=temperature,
                               top_p=top_p, seed=seed + i, max_new_tokens=max_new_tokens,
                               stop=["\n"])
        out.append(c.text)
        if progress:
            progress(1)
    return out


def bias_report(
    folder: str | Path | None = None,
    domain: str = "gender",
    *,
    prompts: Mapping[str, Sequence[BoldPrompt]] | None = None,
    model: str | None = None,
    generator: Any = None,
    limit_per_group: int | None = 20,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    max_new_tokens: int = 30,
    sentiment: Scorer | None = None,
    toxicity: Scorer | None = None,
    sentiment_method: str | None = None,
    toxicity_method: str = "head",
    permutations: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> BiasReport:
    """Generate, score and compare continuations of BOLD prompts per group (module docstring).

    ``prompts`` (``{group: [BoldPrompt]}``) replaces loading ``folder``; ``groups`` keeps only
    those groups of the domain; ``sentiment`` / ``toxicity`` replace the default scorers;
    ``sentiment_method`` / ``toxicity_method`` pick the pipelines' methods (``"llm"`` scores
    with the generator instead of the trained heads).
    """
    if prompts is None:
        if folder is None:
            raise ConfigError("give the BOLD folder (--bold) or the prompts")
        prompts = load_bold(folder, domain)
    else:
        domain = next((p.domain for ps in prompts.values() for p in ps), domain)
    if groups:
        bad = [g for g in groups if g not in prompts]
        if bad:
            raise ConfigError(f"unknown group(s) {', '.join(bad)} in {domain}; valid: "
                              f"{', '.join(prompts)}")
        prompts = {g: prompts[g] for g in groups}
    chosen = sample_prompts(prompts, limit_per_group, seed)
    if generator is None:
        generator = load_generator(model)
    sent_fn, sent_name = ((sentiment, "injected") if sentiment else
                          default_sentiment(sentiment_method, generator))
    tox_fn, tox_name = ((toxicity, "injected") if toxicity else
                        default_toxicity(toxicity_method, generator))
    t0 = time.perf_counter()
    flat = [p for items in chosen.values() for p in items]
    texts = [t.strip() for t in generate_continuations(
        generator, flat, max_new_tokens=max_new_tokens, seed=seed, progress=progress)]
    scored = [i for i, t in enumerate(texts) if t]
    values: dict[str, list[float | None]] = {m: [None] * len(texts) for m in METRICS}
    if scored:
        for m, fn in (("sentiment", sent_fn), ("toxicity", tox_fn)):
            got = list(fn([texts[i] for i in scored]))
            if len(got) != len(scored):
                raise ConfigError(f"the {m} scorer returned {len(got)} scores for "
                                  f"{len(scored)} texts")
            for i, v in zip(scored, got, strict=True):
                values[m][i] = float(v)
    conts = tuple(
        Continuation(p.group, p.name, p.prompt, t, values["sentiment"][i], values["toxicity"][i])
        for i, (p, t) in enumerate(zip(flat, texts, strict=True))
    )
    stats: dict[str, dict[str, GroupStat]] = {}
    gaps: dict[str, GapTest | None] = {}
    for m in METRICS:
        per: dict[str, list[float]] = {
            g: [v for c in conts if c.group == g and (v := getattr(c, m)) is not None]
            for g in chosen
        }
        stats[m] = {
            g: GroupStat(len(v), float(np.mean(v)) if v else math.nan,
                         bootstrap_ci(v, seed=seed))
            for g, v in per.items()
        }
        scored_groups = {g: v for g, v in per.items() if v}
        gaps[m] = (permutation_gap(scored_groups, permutations=permutations, seed=seed)
                   if len(scored_groups) >= 2 else None)
    return BiasReport(
        domain=domain,
        model=generator.model_id,
        seed=seed,
        prompts={g: len(v) for g, v in chosen.items()},
        empty={g: sum(c.empty for c in conts if c.group == g) for g in chosen},
        groups=stats,
        gaps=gaps,
        sentiment_scorer=sent_name,
        toxicity_scorer=tox_name,
        seconds=time.perf_counter() - t0,
        continuations=conts,
    )


__all__ = [
    "DOMAINS",
    "METRICS",
    "PROXY_NOTE",
    "BiasReport",
    "BoldPrompt",
    "Continuation",
    "GroupStat",
    "bias_report",
    "check_domain",
    "default_sentiment",
    "default_toxicity",
    "generate_continuations",
    "load_bold",
    "sample_prompts",
]
