"""Extractive answers: the sentence, or the short span of it, from the retrieved chunks that
best answers the question, cited to its chunk with its location. No text is generated, so
nothing can be invented; what is quoted is always in a source.

Two stages, each a small linear model over cheap features:

1. **sentence**: every sentence of every retrieved chunk (``ponder.text.sentence_spans``)
   is scored on its IDF-weighted overlap with the question's content words, the share of
   question bigrams it repeats, its embedding similarity with the question (the collection's
   own embedder), whether it holds the kind of thing the question asks for (who → a name,
   when → a date, how many → a number), how much it adds beyond the question, and the rank
   of its chunk.
2. **span**: the best sentence is cut at commas, semicolons, colons, brackets and dashes;
   each clause, and each pair of adjacent clauses, is scored on what it adds beyond the
   question, whether it holds the asked-for type, its distance to the words the question
   repeats and its length; "how do I ..." questions keep the whole sentence.

The weights are fitted by ``bench/fit_extractive.py`` on half of the XQuAD English articles
and shipped in ``ponder/data/extractive.json``; without that file hand-set weights are used.
Below ``floor`` (the best sentence shares almost nothing with the question) there is no answer:
``extract`` returns ``None`` and ``ask`` says "The sources do not contain the answer." rather
than quoting something unrelated.

>>> from ponder.types import Chunk, Hit
>>> text = "Green tea takes 80 degree water. Black tea takes boiling water and four minutes."
>>> hits = [Hit(Chunk("tea", "guide.md", text, end=len(text)), 1.0, 1)]
>>> x = extract("How long does black tea steep?", hits)
>>> x.text, x.chunk_id
('Black tea takes boiling water and four minutes', 'tea')
>>> x.location
'chars 0-80; sentence at chars 33-80'
>>> extract("Who painted the Mona Lisa?", hits) is None
True
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ponder.embed.base import Embedder
from ponder.rag.citations import STOPWORDS, content_words
from ponder.text import sentence_spans
from ponder.types import Hit

WEIGHTS_FILE = Path(__file__).resolve().parent.parent / "data" / "extractive.json"

SENTENCE_FEATURES = ("overlap_idf", "overlap", "bigrams", "embedding", "answer_type",
                     "novelty", "rank", "short")
SPAN_FEATURES = ("novelty", "question_share", "answer_type", "near", "length_share",
                 "log_length", "pair", "first", "fine", "typed", "cut", "has_number",
                 "has_date", "has_name", "after_question_word", "before_question_word",
                 "one_token", "two_three_tokens", "four_six_tokens", "bias")

# hand-set defaults (used when the fitted file is missing); the fitted file replaces them
_DEFAULT = {
    "sentence": {"mean": [0.0] * 8, "std": [1.0] * 8,
                 "weights": [3.0, 1.0, 1.0, 2.0, 0.8, 0.5, 0.5, -1.0], "bias": -2.0},
    "span": {"mean": [0.0] * 20, "std": [1.0] * 20,
             "weights": [1.0, -1.5, 1.0, 1.0, -0.5, -0.3, -0.3, 0.0, 0.2, 1.0, 0.3,
                         0.0, 0.0, 0.0, 0.3, 0.1, 0.0, 0.1, 0.0, 0.0],
             "bias": 0.0},
    "floor": {"overlap_idf": 0.25, "embedding": 0.45},
    "agreement": {"margin": 10.0},
}

_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|"
           "december")
_DATE = re.compile(rf"\b(1\d{{3}}|20\d{{2}}|\d{{1,2}}(st|nd|rd|th)?\s+({_MONTHS})|({_MONTHS})|"
                   r"\d+(st|nd|rd|th)\s+century|centur(y|ies)|\d{2,4}s)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\b(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                     r"twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|"
                     r"dozen|half|percent)\b", re.IGNORECASE)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_CLAUSE = re.compile(r"\s*(?:[,;:()\[\]\u2013\u2014]|\s-\s)\s*")
_FINE = re.compile(r"\s*(?:[,;:()\[\]\u2013\u2014]|\s-\s|\s(?:and|or|but|which|who|whom|"
                   r"whose|that|where|while|because|although|after|before|since|until|when)\s)"
                   r"\s*")
_TOKEN = re.compile(r"\w+(?:[-'’.]\w+)*")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_HOW_TO = re.compile(r"^\s*(how\s+(do|does|can|could|should|would|to|is|are)\b|"
                     r"(what|which)\s+(function|method|class|module|command|way)\b)",
                     re.IGNORECASE)
_WH_PHRASE = re.compile(r"\bhow\s+(many|much|long|old|far|large|big|tall|high|often|fast|wide|"
                        r"deep)\b|\b(what|which)\s+(year|date|century|decade|month|day|"
                        r"percentage|percent|number|amount|kind|type|sort)\b", re.IGNORECASE)
_MARKER = re.compile(r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]")  # citation markers
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
NOT_FOUND = "The sources do not contain the answer."


def question_words(question: str) -> list[str]:
    """The question's content words, without the words of its wh-phrase ("how long").

    >>> question_words("How long does black tea steep?")
    ['black', 'tea', 'steep']
    """
    return list(dict.fromkeys(content_words(_WH_PHRASE.sub(" ", question))))


def question_type(question: str) -> str:
    """The kind of answer a question asks for: ``date``, ``number``, ``name``, ``place``, ``how_to``
    (a procedure: keep the whole sentence) or ``other``.

    >>> [question_type(q) for q in ("When did it end?", "How many moons?", "Who won?",
    ...  "How do I read a CSV file?", "What is it?", "In what year was it built?")]
    ['date', 'number', 'name', 'how_to', 'other', 'date']
    """
    q = question.lower()
    if re.search(r"\bwhen\b|\bwhat (year|date|century|decade|month|day)\b|"
                 r"\b(which|what) (year|century|decade)\b", q):
        return "date"
    if re.search(r"\bhow (many|much|long|old|far|large|big|tall|high|often|fast|wide|deep)\b|"
                 r"\bwhat (percentage|percent|number|amount|proportion|fraction)\b", q):
        return "number"
    if _HOW_TO.search(question):
        return "how_to"
    if re.search(r"\bwho(m|se)?\b|\bwhat (person|company|team|group|organization)\b", q):
        return "name"
    if re.search(r"\bwhere\b|\b(what|which) (city|country|state|place|region|river)\b", q):
        return "place"
    return "other"


def _has_type(text: str, qtype: str, question: str) -> float:
    if qtype == "date":
        return float(_DATE.search(text) is not None)
    if qtype == "number":
        return float(_NUMBER.search(text) is not None)
    if qtype in ("name", "place"):
        qwords = {w.lower() for w in _TOKEN.findall(question)}
        names = [m.group(0) for m in _NAME.finditer(text)]
        return float(any(n.split()[0].lower() not in qwords for n in names))
    return 0.0


def _words(text: str) -> list[str]:
    """Content words, with CamelCase names split too (``DictReader`` also gives dict, reader)."""
    split = _CAMEL.sub(" ", text)
    words = content_words(text)
    if split != text:
        words += [w for w in content_words(split) if w not in words]
    return words + [w[:-2] for w in words if len(w) > 5 and w.endswith("er")]


@dataclass(frozen=True)
class Extraction:
    """The extractive answer: ``text`` (the span), the ``sentence`` it is in, the chunk it
    comes from (``hit``), character offsets of span and sentence within the chunk text, the
    sentence's ``score`` (0..1) and the question type."""

    text: str
    sentence: str
    hit: Hit
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    score: float
    qtype: str
    features: dict[str, float] = field(default_factory=dict)

    @property
    def chunk_id(self) -> str:
        return self.hit.chunk.id

    @property
    def location(self) -> str:
        """Where the sentence is: the chunk's location and the sentence's characters in the
        document (when the chunk's text is the document's)."""
        c = self.hit.chunk
        a, b = c.start + self.sentence_start, c.start + self.sentence_end
        return f"{c.location}; sentence at chars {a}-{b}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text, "sentence": self.sentence, "chunk_id": self.chunk_id,
            "source": self.hit.chunk.source, "location": self.location,
            "span": [self.start, self.end], "score": round(self.score, 4),
            "question_type": self.qtype,
        }


@dataclass(frozen=True)
class SentenceCandidate:
    """One sentence of a retrieved chunk with its features (``SENTENCE_FEATURES`` order)."""

    hit_index: int
    start: int
    end: int
    text: str
    features: tuple[float, ...]


def rank_sentences(
    question: str,
    hits: Sequence[Hit],
    *,
    texts: Sequence[str] | None = None,
    embedder: Embedder | None = None,
    weights: dict[str, Any] | None = None,
) -> list[tuple[SentenceCandidate, float]]:
    """Every sentence of the hits with its score (a logit of the sentence model), best first."""
    w = weights or load_weights()
    cands = sentence_candidates(question, hits, texts=texts, embedder=embedder)
    if not cands:
        return []
    x = np.array([c.features for c in cands], dtype=float)
    if embedder is None:  # the embedding feature is absent: score it as its mean
        x[:, SENTENCE_FEATURES.index("embedding")] = w["sentence"]["mean"][
            SENTENCE_FEATURES.index("embedding")]
    scores = _linear(w["sentence"], x)
    order = sorted(range(len(cands)), key=lambda j: -float(scores[j]))  # stable on ties
    return [(cands[j], float(scores[j])) for j in order]


@dataclass(frozen=True)
class Agreement:
    """Whether a generated answer agrees with the extractive reading of the same sources.

    For each sentence of the answer: ``added``, the content words and numbers it adds to the
    question, and ``margins``, how far below the best source sentence's score (logits of the
    sentence model) the best-scored source sentence holding all of them is (``inf``: no one
    sentence holds them all). The answer agrees when some sentence adds something, every
    such sentence is held by one source sentence, and at least one of those is within
    ``limit`` of the best."""

    sentences: tuple[str, ...]
    added: tuple[tuple[str, ...], ...]
    margins: tuple[float, ...]
    limit: float

    @property
    def agrees(self) -> bool:
        return not self.reason()

    def reason(self) -> str:
        """Why the answer does not agree ("" when it does)."""
        checked = [(s, a, m) for s, a, m in zip(self.sentences, self.added, self.margins,
                                                 strict=True) if a]
        if not checked:
            return "the generated answer adds nothing to the question"
        for s, a, m in checked:
            if m == math.inf:
                words = ", ".join(a[:6])
                return (f"no source sentence holds all the words of {_clip(s)!r} that the "
                        f"question does not ({words})")
        if min(m for _, _, m in checked) > self.limit:
            return ("the source sentences that hold the generated answer are not among those "
                    "that best answer the question")
        return ""


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _terms(text: str) -> list[str]:
    """Content words and numbers (``"1,200"`` as ``1200``); citation markers dropped.

    >>> _terms("It cost 1,200 dollars in 1990 [2].")
    ['cost', 'dollar', '1200', '1990']
    """
    bare = _MARKER.sub(" ", text)
    return content_words(bare) + sorted({n.replace(",", "") for n in _DIGITS.findall(bare)})


def agreement(
    question: str,
    answer: str | Sequence[str],
    ranked: Sequence[tuple[SentenceCandidate, float]],
    *,
    weights: dict[str, Any] | None = None,
) -> Agreement:
    """Check a generated ``answer`` (its text, or the sentences to check, e.g. the claims
    the support check found) against the sentences ``rank_sentences`` scored: the words
    each of its sentences adds to the question must occur together in one source sentence,
    and for at least one of them that sentence must score within ``agreement.margin``
    (fitted on half of XQuAD's articles by ``bench/fit_auto.py``) of the best. Two readers,
    the model and the extractive scorer, then point at the same evidence; a fluent answer
    built from words scattered over the sources, or taken from sentences that do not answer
    the question, does not pass.

    >>> from ponder.types import Chunk, Hit
    >>> text = "Green tea takes 80 degree water. Black tea takes boiling water and four minutes."
    >>> hits = [Hit(Chunk("tea", "guide.md", text, end=len(text)), 1.0, 1)]
    >>> q = "How long does black tea steep?"
    >>> ranked = rank_sentences(q, hits)
    >>> agreement(q, "Black tea steeps for four minutes [1].", ranked).agrees
    True
    >>> a = agreement(q, "Black tea steeps for 80 minutes [1].", ranked)
    >>> a.agrees, a.added
    (False, (('minute', '80'),))
    """
    w = weights or load_weights()
    limit = float(w.get("agreement", _DEFAULT["agreement"])["margin"])
    asked = set(_terms(question))
    sentences = (tuple(answer[a:b] for a, b in sentence_spans(answer))
                 if isinstance(answer, str) else tuple(answer))
    added = tuple(tuple(x for x in dict.fromkeys(_terms(s)) if x not in asked)
                  for s in sentences)
    words = [set(_terms(c.text)) for c, _ in ranked]
    best = ranked[0][1] if ranked else 0.0
    margins = []
    for a in added:
        hold = next((k for k, ws in enumerate(words) if a and all(x in ws for x in a)), None)
        margins.append(math.inf if hold is None else best - ranked[hold][1])
    return Agreement(sentences, added, tuple(margins), limit)


@lru_cache(maxsize=4)
def load_weights(path: str | None = None) -> dict[str, Any]:
    """The fitted weights (``ponder/data/extractive.json``), or the hand-set defaults."""
    p = Path(path) if path else WEIGHTS_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        if (len(data["sentence"]["weights"]) == len(SENTENCE_FEATURES)
                and len(data["span"]["weights"]) == len(SPAN_FEATURES)):
            return dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return _DEFAULT


def _linear(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    mean, std = np.asarray(model["mean"]), np.asarray(model["std"])
    z = (x - mean) / np.where(std > 0, std, 1.0)
    return np.asarray(z @ np.asarray(model["weights"]) + float(model["bias"]))


def sentence_candidates(
    question: str,
    hits: Sequence[Hit],
    *,
    texts: Sequence[str] | None = None,
    embedder: Embedder | None = None,
) -> list[SentenceCandidate]:
    """Every sentence of the hits (``texts`` replaces the chunk texts, e.g. neutralised ones)
    with its features."""
    texts = [h.chunk.text for h in hits] if texts is None else list(texts)
    sents: list[tuple[int, int, int, str]] = []
    for i, t in enumerate(texts):
        for s, e in sentence_spans(t or ""):
            sents.append((i, s, e, t[s:e]))
    if not sents:
        return []
    qwords = question_words(question)
    words = [set(_words(s[3])) for s in sents]
    n = len(sents)
    idf = {w: math.log((n + 1) / (sum(w in ws for ws in words) + 0.5)) for w in qwords}
    idf_total = sum(idf.values()) or 1.0
    qbig = set(pairwise(qwords))
    qtype = question_type(question)
    sims = np.zeros(n)
    if embedder is not None:
        vecs = embedder.embed([s[3] for s in sents])
        qv = embedder.embed_query(question)
        vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        sims = vecs @ (qv / max(float(np.linalg.norm(qv)), 1e-12))
    out = []
    for j, ((i, s, e, text), ws) in enumerate(zip(sents, words, strict=True)):
        own = content_words(text)
        big = set(pairwise(own))
        new = [w for w in set(own) if w not in qwords]
        feats = (
            sum(idf[w] for w in qwords if w in ws) / idf_total,
            sum(w in ws for w in qwords) / max(1, len(qwords)),
            len(qbig & big) / max(1, len(qbig)),
            float(sims[j]),
            _has_type(text, qtype, question),
            min(1.0, len(new) / 5),
            1.0 / (hits[i].rank if hits[i].rank > 0 else i + 1),
            float(len(own) < 3),
        )
        out.append(SentenceCandidate(i, s, e, text, feats))
    return out


@dataclass(frozen=True)
class SpanCandidate:
    start: int  # offsets within the sentence
    end: int
    text: str
    features: tuple[float, ...]


def _pieces(sentence: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = 0
    for m in pattern.finditer(sentence):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < len(sentence):
        out.append((pos, len(sentence)))
    return [(a, b) for a, b in out if any(ch.isalnum() for ch in sentence[a:b])]


def _typed(sentence: str, qtype: str, qset: set[str]) -> list[tuple[int, int]]:
    """Spans of the asked-for type: a number with the word after it, a date, a name."""
    out: list[tuple[int, int]] = []
    if qtype == "number":
        for m in _NUMBER.finditer(sentence):
            nxt = re.match(r"\s+([A-Za-z]+)", sentence[m.end():])
            end = m.end()
            if nxt and nxt.group(1).lower() not in STOPWORDS:
                end += nxt.end()
            out.append((m.start(), end))
    elif qtype == "date":
        ms = list(_DATE.finditer(sentence))
        k = 0
        while k < len(ms):  # "June 4, 1990": adjacent date parts make one span
            a, b = ms[k].start(), ms[k].end()
            while k + 1 < len(ms) and ms[k + 1].start() - b <= 4:
                k += 1
                b = ms[k].end()
            out.append((a, b))
            k += 1
    elif qtype in ("name", "place"):
        for m in _NAME.finditer(sentence):
            if not set(content_words(m.group(0))) <= qset:
                out.append((m.start(), m.end()))
    return out


def _cuts(toks: list[tuple[int, int, str]], pieces: list[tuple[int, int]],
          qset: set[str]) -> list[tuple[int, int]]:
    """Runs of each piece between the question's own words, without stop words at the ends
    (the answer is what the sentence adds to the question)."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        run: list[tuple[int, int, str]] = []
        for t in [*(t for t in toks if t[0] >= a and t[1] <= b), None]:
            if t is not None and not set(content_words(t[2])) & qset:
                run.append(t)
                continue
            while run and run[0][2].lower() in STOPWORDS:
                run.pop(0)
            while run and run[-1][2].lower() in STOPWORDS:
                run.pop()
            if run and (run[0][0], run[-1][1]) != (a, b):
                out.append((run[0][0], run[-1][1]))
            run = []
    return out


def span_candidates(question: str, sentence: str) -> list[SpanCandidate]:
    """Clauses of ``sentence`` (cut at punctuation), pairs of adjacent clauses, finer pieces
    (also cut at conjunctions and relative pronouns) and spans of the asked-for type, with
    their features (``SPAN_FEATURES`` order).

    >>> texts = [c.text for c in span_candidates("When was it won?", "In 1990, Ada won and left.")]
    >>> texts[:4], "1990" in texts
    (['In 1990', 'Ada won and left.', 'In 1990, Ada won and left.', 'Ada won'], True)
    """
    pieces = _pieces(sentence, _CLAUSE)
    if not pieces:
        return []
    qset = set(question_words(question))
    qtype = question_type(question)
    toks = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(sentence)]
    q_pos = [k for k, (_, _, w) in enumerate(toks) if set(content_words(w)) & qset]
    n_tok = max(1, len(toks))
    spans = [(a, b, 0) for a, b in pieces]
    spans += [(pieces[k][0], pieces[k + 1][1], 1) for k in range(len(pieces) - 1)]
    spans += [(a, b, 2) for a, b in _pieces(sentence, _FINE) if (a, b) not in pieces]
    spans += [(a, b, 3) for a, b in _typed(sentence, qtype, qset)]
    spans += [(a, b, 4) for a, b in _cuts(toks, [(a, b) for a, b, _ in spans], qset)]
    out = []
    seen: set[tuple[int, int]] = set()
    for a, b, kind in spans:
        if (a, b) in seen:
            continue
        seen.add((a, b))
        text = sentence[a:b]
        own = content_words(text)
        inside = [k for k, (s, e, _) in enumerate(toks) if s >= a and e <= b]
        if not inside:
            continue
        lo, hi = inside[0], inside[-1]
        dist = min((max(lo - p, p - hi, 0) for p in q_pos), default=n_tok)
        feats = (
            min(1.0, len([w for w in own if w not in qset]) / 4),
            len([w for w in own if w in qset]) / max(1, len(own)),
            _has_type(text, qtype, question),
            1.0 / (1.0 + dist),
            len(inside) / n_tok,
            math.log(1 + len(inside)),
            float(kind == 1),
            float(a == pieces[0][0]),
            float(kind == 2),
            float(kind == 3),
            float(kind == 4),
            float(_NUMBER.search(text) is not None),
            float(_DATE.search(text) is not None),
            float(any(not set(content_words(m.group(0))) <= qset for m in _NAME.finditer(text))),
            float(any(0 < lo - p <= 2 for p in q_pos)),
            float(any(0 < p - hi <= 2 for p in q_pos)),
            float(len(inside) == 1),
            float(2 <= len(inside) <= 3),
            float(4 <= len(inside) <= 6),
            1.0,
        )
        out.append(SpanCandidate(a, b, text, feats))
    return out


def _trim(text: str) -> str:
    return text.strip().strip(",;:.").strip()


def extract(
    question: str,
    hits: Sequence[Hit],
    *,
    texts: Sequence[str] | None = None,
    embedder: Embedder | None = None,
    weights: dict[str, Any] | None = None,
    span: bool = True,
) -> Extraction | None:
    """The best answer span from ``hits``, or ``None`` when no sentence clears the floor
    (the sources do not answer the question). Empty chunks are skipped; ``span=False``
    answers with the whole sentence."""
    w = weights or load_weights()
    ranked = rank_sentences(question, hits, texts=texts, embedder=embedder, weights=w)
    return extract_ranked(question, hits, ranked, weights=w, span=span, scored=embedder
                          is not None)


def extract_ranked(
    question: str,
    hits: Sequence[Hit],
    ranked: Sequence[tuple[SentenceCandidate, float]],
    *,
    weights: dict[str, Any] | None = None,
    span: bool = True,
    scored: bool = True,
) -> Extraction | None:
    """``extract`` on sentences already ranked by ``rank_sentences`` (``scored``: whether
    they were scored with the embedder, which the floor's meaning test needs)."""
    w = weights or load_weights()
    if not ranked:
        return None
    c, top = ranked[0]
    f = dict(zip(SENTENCE_FEATURES, c.features, strict=True))
    floor = w.get("floor", _DEFAULT["floor"])
    strong_words = f["overlap_idf"] >= floor["overlap_idf"]
    strong_meaning = scored and f["embedding"] >= floor["embedding"]
    if not (strong_words or strong_meaning):
        return None
    qtype = question_type(question)
    a, b = 0, len(c.text)
    if span and qtype != "how_to":
        spans = span_candidates(question, c.text)
        if spans:
            sx = np.array([s.features for s in spans], dtype=float)
            pick = spans[int(np.argmax(_linear(w["span"], sx)))]
            a, b = pick.start, pick.end
    text = _trim(c.text[a:b]) or _trim(c.text)
    found = c.text.find(text, a)
    a = found if found >= 0 else max(0, c.text.find(text))
    b = a + len(text)
    prob = 1.0 / (1.0 + math.exp(-top))
    return Extraction(
        text=text, sentence=c.text.strip(), hit=hits[c.hit_index], start=c.start + a,
        end=c.start + b, sentence_start=c.start, sentence_end=c.end, score=prob, qtype=qtype,
        features=f,
    )


__all__ = [
    "NOT_FOUND",
    "SENTENCE_FEATURES",
    "SPAN_FEATURES",
    "Agreement",
    "Extraction",
    "SentenceCandidate",
    "SpanCandidate",
    "agreement",
    "extract",
    "extract_ranked",
    "load_weights",
    "question_type",
    "question_words",
    "rank_sentences",
    "sentence_candidates",
    "span_candidates",
]
