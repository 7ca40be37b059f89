"""Question-answering evaluation on SQuAD-format data (XQuAD, SQuAD dev): RAG vs closed book.

Each paragraph is added to a collection as one chunk (its id ``<article>-<n>``), so retrieval
can be scored by whether the gold paragraph was found. For every question:

- ``em`` / ``f1``: SQuAD's exact match and token F1 (answers normalised: lower case, no
  punctuation, no articles), best over the gold answers, after citation markers are removed.
  A model that answers in sentences scores low on both even when right, hence:
- ``contains``: the normalised gold answer occurs in the normalised answer;
- ``hit``: the gold paragraph is among the ``k`` retrieved; ``in_context``: it is among the
  sources actually packed into the prompt;
- ``cited_gold``: the answer's citations (the model's or inferred by the support check)
  include the gold paragraph; ``cited_gold_model``: the model's own ``[n]`` do;
- ``unsupported``: unsupported sentences over checked sentences (pooled over questions);
- ``no_answer``: the answer says the sources do not contain it;
- ``extractive_share``: answers given by the extractive method (``--answer extractive``, or
  ``auto`` falling back); ``answered_by`` and ``fallback_reason`` per question;
- time to first token and total seconds per question.

>>> normalize_answer("The  Denver Broncos!")
'denver broncos'
>>> exact_match("denver broncos", ["Denver Broncos"])
1.0
>>> round(token_f1("the Broncos won", ["Denver Broncos"]), 2)
0.5
>>> contains_answer("I think the Denver Broncos [1].", ["Denver Broncos"])
1.0
"""

from __future__ import annotations

import contextlib
import json
import re
import statistics
import string
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.errors import InputError
from ponder.rag.ask import AskConfig, ask, closed_book, resolve_generator

if TYPE_CHECKING:
    from ponder.llm.base import Generator
    from ponder.rag.answer import Answer
    from ponder.store.collection import Collection

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
_CITE = re.compile(r"\[\s*\d+(?:\s*,\s*\d+)*\s*\]")


# ------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class Paragraph:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    answers: tuple[str, ...]
    paragraph_id: str


def _slug(title: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", title).strip("_")[:40] or "article"


def load_squad(path: str | Path) -> tuple[list[Paragraph], list[QAExample]]:
    """Paragraphs and questions of a SQuAD v1-format JSON file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such SQuAD file; give the path to e.g. xquad.en.json")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))["data"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise InputError(f"{p}: not SQuAD JSON ({e}); expected {{'data': [articles]}}") from e
    paragraphs: list[Paragraph] = []
    examples: list[QAExample] = []
    for art in data:
        slug = _slug(art.get("title", "article"))
        for i, para in enumerate(art["paragraphs"]):
            pid = f"{slug}-{i}"
            paragraphs.append(Paragraph(pid, art.get("title", ""), para["context"]))
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                examples.append(QAExample(str(qa["id"]), qa["question"], answers, pid))
    if not examples:
        raise InputError(f"{p}: no questions found")
    return paragraphs, examples


def sample_examples(examples: Sequence[QAExample], limit: int | None) -> list[QAExample]:
    """``limit`` questions spread evenly over the file (all of them when ``limit`` is None).

    >>> xs = [QAExample(str(i), "q", ("a",), "p") for i in range(10)]
    >>> [x.id for x in sample_examples(xs, 3)]
    ['0', '3', '6']
    """
    if limit is None or limit >= len(examples):
        return list(examples)
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]


def ingest_paragraphs(
    collection: Collection,
    paragraphs: Sequence[Paragraph],
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 64,
) -> int:
    """Add the paragraphs missing from ``collection`` (one chunk each). Returns how many."""
    have = {c.id for c in collection.get(ids=[p.id for p in paragraphs])}
    todo = [p for p in paragraphs if p.id not in have]
    for i in range(0, len(todo), batch):
        part = todo[i : i + batch]
        collection.add(
            ids=[p.id for p in part],
            texts=[p.text for p in part],
            metadatas=[{"title": p.title} for p in part],
        )
        if progress:
            progress(len(part))
    return len(todo)


# ------------------------------------------------------------------------------ metrics
def normalize_answer(s: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def _strip_citations(s: str) -> str:
    return _CITE.sub(" ", s)


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    p = normalize_answer(_strip_citations(prediction))
    return float(any(p == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Iterable[str]) -> float:
    pred = normalize_answer(_strip_citations(prediction)).split()
    best = 0.0
    for g in golds:
        gold = normalize_answer(g).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        if same == 0:
            continue
        prec, rec = same / len(pred), same / len(gold)
        best = max(best, 2 * prec * rec / (prec + rec))
    return best


def contains_answer(prediction: str, golds: Iterable[str]) -> float:
    p = f" {normalize_answer(_strip_citations(prediction))} "
    return float(any(f" {normalize_answer(g)} " in p for g in golds if normalize_answer(g)))


# ------------------------------------------------------------------------------ runs
@dataclass
class QARecord:
    id: str
    mode: str
    question: str
    golds: list[str]
    answer: str
    status: str
    em: float
    f1: float
    contains: float
    ttft: float
    total: float
    hit: float | None = None
    in_context: float | None = None
    cited_gold: float | None = None
    cited_gold_model: float | None = None
    checked_sentences: int = 0
    unsupported_sentences: int = 0
    injections: int = 0
    prompt_tokens: int = 0
    retrieved: list[str] = field(default_factory=list)
    answered_by: str = ""
    fallback_reason: str = ""
    generated: str | None = None


def score_answer(ex: QAExample, answer: Answer, mode: str) -> QARecord:
    """One question's record from its ``Answer``."""
    rec = QARecord(
        id=ex.id, mode=mode, question=ex.question, golds=list(ex.answers), answer=answer.text,
        status=answer.status, em=exact_match(answer.text, ex.answers),
        f1=token_f1(answer.text, ex.answers), contains=contains_answer(answer.text, ex.answers),
        ttft=answer.timings.get("time_to_first_token", 0.0),
        total=answer.timings.get("total", 0.0), prompt_tokens=answer.prompt_tokens,
        answered_by=str(getattr(answer, "mode", "generative")),
        fallback_reason=str(getattr(answer, "fallback_reason", "")),
        generated=answer.generated.text if getattr(answer, "generated", None) else None,
    )
    if mode != "closed_book":
        ids = [h.chunk.id for h in answer.hits]
        rec.retrieved = ids
        rec.hit = float(ex.paragraph_id in ids)
        rec.in_context = float(ex.paragraph_id in ids and ex.paragraph_id not in answer.dropped)
        rec.cited_gold = float(any(c.chunk_id == ex.paragraph_id for c in answer.citations))
        rec.cited_gold_model = float(
            any(c.chunk_id == ex.paragraph_id and not c.inferred for c in answer.citations)
        )
        checked = [s for s in answer.sentences if s.kind == "claim"]
        rec.checked_sentences = len(checked)
        rec.unsupported_sentences = len(answer.unsupported)
        rec.injections = len(answer.injections)
    return rec


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    xs = sorted(values)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def summarize(records: Sequence[QARecord]) -> dict[str, Any]:
    """Means, rates and latency percentiles of one run (one mode, one setting)."""
    if not records:
        return {"questions": 0}
    n = len(records)

    def mean(name: str) -> float | None:
        vals = [getattr(r, name) for r in records if getattr(r, name) is not None]
        return round(sum(vals) / len(vals), 4) if vals else None

    checked = sum(r.checked_sentences for r in records)
    ttft = [r.ttft for r in records]
    total = [r.total for r in records]
    out: dict[str, Any] = {
        "questions": n,
        "em": mean("em"),
        "f1": mean("f1"),
        "contains": mean("contains"),
        "hit_at_k": mean("hit"),
        "in_context": mean("in_context"),
        "cited_gold": mean("cited_gold"),
        "cited_gold_model": mean("cited_gold_model"),
        "unsupported_share": round(sum(r.unsupported_sentences for r in records) / checked, 4)
        if checked else None,
        "no_answer": round(sum(r.status == "no_answer" for r in records) / n, 4),
        "extractive_share": round(sum(r.answered_by == "extractive" for r in records) / n, 4),
        "ttft_p50": round(statistics.median(ttft), 3),
        "ttft_p90": round(_pct(ttft, 0.9), 3),
        "total_p50": round(statistics.median(total), 3),
        "total_mean": round(sum(total) / n, 3),
        "prompt_tokens_mean": round(sum(r.prompt_tokens for r in records) / n, 1),
    }
    return {k: v for k, v in out.items() if v is not None}


def evaluate_qa(
    examples: Sequence[QAExample],
    *,
    collection: Collection | None,
    model: Generator | str | None = None,
    config: AskConfig | None = None,
    mode: str = "rag",
    progress: Callable[[QARecord], None] | None = None,
) -> tuple[dict[str, Any], list[QARecord]]:
    """Answer every example in ``mode`` (``rag`` through ``ask``, or ``closed_book``);
    returns the summary and the per-question records."""
    if mode not in ("rag", "closed_book"):
        raise InputError(f"unknown QA mode {mode!r}; use rag or closed_book")
    cfg = config or AskConfig()
    gen = None  # the extractive mode never loads the model
    if mode == "closed_book" or cfg.answer != "extractive":
        gen = resolve_generator(model)
        # load the model now, so that the first question's latency does not include it
        # (a backend without a tokenizer loads on its first generation instead)
        with contextlib.suppress(Exception):
            gen.count_tokens("warm up")
    records: list[QARecord] = []
    for ex in examples:
        t0 = time.perf_counter()
        if mode == "closed_book":
            answer = closed_book(ex.question, model=gen, max_new_tokens=cfg.max_new_tokens)
        else:
            if collection is None:
                raise InputError("RAG evaluation needs a collection")
            answer = ask(ex.question, collection=collection, model=gen, config=cfg)
        answer.timings.setdefault("total", time.perf_counter() - t0)
        rec = score_answer(ex, answer, mode)
        records.append(rec)
        if progress:
            progress(rec)
    return summarize(records), records


COLUMNS = (
    ("setting", "setting"), ("questions", "n"), ("em", "EM"), ("f1", "F1"),
    ("contains", "contains"), ("hit_at_k", "hit@k"), ("in_context", "in context"),
    ("cited_gold", "cites gold"), ("cited_gold_model", "cites gold (model)"),
    ("unsupported_share", "unsupported"), ("no_answer", "no answer"),
    ("extractive_share", "extractive"),
    ("ttft_p50", "TTFT p50 s"), ("total_p50", "total p50 s"),
)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of summaries (each with a ``setting`` name); missing values are "–".

    >>> print(markdown_table([{"setting": "rag k=3", "questions": 2, "em": 0.5}]).splitlines()[2])
    | rag k=3 | 2 | 0.500 | – | – | – | – | – | – | – | – | – | – | – |
    """
    head = "| " + " | ".join(title for _, title in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    lines = [head, sep]
    for r in rows:
        cells = []
        for key, _ in COLUMNS:
            v = r.get(key)
            if v is None:
                cells.append("–")
            elif isinstance(v, float):
                cells.append(f"{v:.2f}" if key.startswith(("ttft", "total")) else f"{v:.3f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def records_json(records: Sequence[QARecord]) -> list[dict[str, Any]]:
    return [asdict(r) for r in records]


__all__ = [
    "Paragraph",
    "QAExample",
    "QARecord",
    "contains_answer",
    "evaluate_qa",
    "exact_match",
    "ingest_paragraphs",
    "load_squad",
    "markdown_table",
    "normalize_answer",
    "records_json",
    "sample_examples",
    "score_answer",
    "summarize",
    "token_f1",
]
