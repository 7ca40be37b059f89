"""Contrastive fine-tuning of the MiniLM embedder, and loading the result as ``--embedder DIR``.

Training pairs ``(query, positive[, negative])`` come from a JSONL file (``{"query",
"positive"[, "negative"]}`` per line) or a BEIR folder's split (each judged query with each
relevant document, title + text as Ponder indexes it). The loss is sentence-transformers'
``MultipleNegativesRankingLoss``: each query must pick its positive among every passage in the
batch (the other queries' positives are in-batch negatives; a hard negative per pair is added
when given). ``hard_negatives=True`` mines one per pair with BM25 (SQLite FTS5, as Ponder's
keyword search): the best-ranked document that is not judged relevant for the query.

The output folder is a sentence-transformers model folder plus ``ponder_embedder.json`` (its
``model_id``: a collection built with it refuses vectors of any other model). Pass the folder
as ``--embedder DIR`` (or ``load_embedder("DIR")``) when creating a collection.

>>> import tempfile, os
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "pairs.jsonl")
>>> _ = open(p, "w").write('{"query": "q1", "positive": "p1"}\\n{"query": "q2"}\\n')
>>> pairs, bad = read_pairs(p)
>>> [(x.query, x.positive, x.negative) for x in pairs], [b.line for b in bad]
([('q1', 'p1', None)], [2])
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ponder.embed.minilm import MODEL_ID, TorchMiniLM, model_dir, offline_guard
from ponder.errors import ConfigError, InputError, ModelNotFoundError
from ponder.finetune.data import BadLine
from ponder.llm.cpu_probe import cpu_has_bf16

META_FILE = "ponder_embedder.json"
_WORDS = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Pair:
    """One training pair, with an optional hard negative."""

    query: str
    positive: str
    negative: str | None = None


@dataclass(frozen=True)
class EmbedderTrainConfig:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 2e-5
    warmup: float = 0.1
    max_seq_length: int = 256
    hard_negatives: bool = False
    seed: int = 0
    threads: int | None = None
    bf16: str = "auto"

    def validate(self) -> EmbedderTrainConfig:
        if self.epochs < 1 or self.batch_size < 2:
            raise ConfigError("need --epochs >= 1 and --batch-size >= 2 (in-batch negatives "
                              "need at least two pairs per batch)")
        if self.lr <= 0:
            raise ConfigError(f"--lr {self.lr}: must be > 0, e.g. 2e-5")
        if self.bf16 not in ("auto", "on", "off"):
            raise ConfigError(f"--bf16 {self.bf16!r}: use auto, on or off")
        return self


@dataclass(frozen=True)
class EmbedderTrainResult:
    out_dir: str
    model_id: str
    pairs: int
    hard_negatives: int
    skipped: int
    steps: int
    epochs: int
    losses: tuple[float, ...]
    wall_s: float
    texts_per_s: float
    bf16: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["losses"] = list(self.losses)
        return d


def read_pairs(path: str | Path, *, strict: bool = False) -> tuple[list[Pair], list[BadLine]]:
    """``{"query", "positive"[, "negative"]}`` per line; bad lines returned (or fatal)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"pairs file {p} not found: give a .jsonl file")
    pairs: list[Pair] = []
    bad: list[BadLine] = []
    with p.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                q, pos, neg = obj.get("query"), obj.get("positive"), obj.get("negative")
                if not isinstance(q, str) or not isinstance(pos, str) or not q or not pos:
                    raise ValueError('needs "query" and "positive" (non-empty strings)')
                pairs.append(Pair(q, pos, neg if isinstance(neg, str) and neg else None))
            except (ValueError, AttributeError) as e:
                reason = str(e) if not isinstance(e, json.JSONDecodeError) else (
                    f"not valid JSON ({e})")
                if strict:
                    raise InputError(f"{p} line {n}: {reason}") from None
                bad.append(BadLine(n, reason))
    if not pairs:
        raise InputError(f"{p} has no usable pair: each line needs "
                         '{"query": ..., "positive": ...}')
    return pairs, bad


def beir_pairs(folder: str | Path, split: str = "train") -> tuple[list[Pair], dict[str, str],
                                                                   dict[str, set[str]]]:
    """Pairs from a BEIR split (relevance > 0), plus the corpus texts and the judged ids per
    query text (for mining negatives that are not relevant)."""
    from ponder.evaluate.beir import load_beir

    data = load_beir(folder, split)
    corpus = {d.id: d.text for d in data.corpus.values()}
    pairs: list[Pair] = []
    relevant: dict[str, set[str]] = {}
    for qid, judged in sorted(data.qrels.items()):
        q = data.queries[qid]
        for did, rel in sorted(judged.items()):
            if rel > 0 and did in corpus:
                pairs.append(Pair(q, corpus[did]))
                relevant.setdefault(q, set()).add(did)
    return pairs, corpus, relevant


def mine_bm25_negatives(pairs: Sequence[Pair], corpus: dict[str, str],
                        relevant: dict[str, set[str]], *, depth: int = 10) -> list[Pair]:
    """Give each pair the best BM25 document (FTS5, porter stemming) not relevant to it."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE d USING fts5(did UNINDEXED, text, "
               "tokenize='porter unicode61')")
    db.executemany("INSERT INTO d(did, text) VALUES (?, ?)", list(corpus.items()))
    cache: dict[str, list[str]] = {}
    out: list[Pair] = []
    for pr in pairs:
        if pr.query not in cache:
            words = list(dict.fromkeys(_WORDS.findall(pr.query.lower())))[:200]
            match = " OR ".join('"' + w.replace('"', "") + '"' for w in words)
            rows = db.execute("SELECT did FROM d WHERE d MATCH ? ORDER BY bm25(d) LIMIT ?",
                              (match, depth)).fetchall() if words else []
            cache[pr.query] = [r[0] for r in rows]
        neg = next((d for d in cache[pr.query] if d not in relevant.get(pr.query, set())), None)
        out.append(Pair(pr.query, pr.positive, corpus[neg] if neg else pr.negative))
    db.close()
    return out


def _model_id(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.glob("*.safetensors")):
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return f"{MODEL_ID}-ft-{h.hexdigest()[:12]}"


def train_embedder(pairs: Sequence[Pair], out: str | Path, *,
                   config: EmbedderTrainConfig | None = None, skipped: int = 0,
                   on_step: Callable[[int, int, float], None] | None = None) -> EmbedderTrainResult:
    """Fine-tune all-MiniLM-L6-v2 on ``pairs`` with in-batch negatives; save to ``out``."""
    cfg = (config or EmbedderTrainConfig()).validate()
    if len(pairs) < 2:
        raise InputError("need at least two training pairs (in-batch negatives)")
    offline_guard()
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    t0 = time.perf_counter()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    model.max_seq_length = cfg.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model)
    bf16 = cfg.bf16 == "on" or (cfg.bf16 == "auto" and cpu_has_bf16())
    steps_per_epoch = math.ceil(len(pairs) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    n_warm = max(1, int(total * cfg.warmup))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / n_warm if s < n_warm else max(0.0, (total - s) / (total - n_warm
                                                                                     or 1)))
    rng = random.Random(cfg.seed)
    losses: list[float] = []
    texts = 0
    step = 0
    model.train()
    for _epoch in range(cfg.epochs):
        order = list(range(len(pairs)))
        rng.shuffle(order)
        # keep queries unique within a batch: a duplicate query's other positive would be
        # counted as a negative
        batches: list[list[int]] = []
        for i in order:
            for b in batches:
                if len(b) < cfg.batch_size and all(pairs[j].query != pairs[i].query for j in b):
                    b.append(i)
                    break
            else:
                batches.append([i])
        for b in batches:
            if len(b) < 2:
                continue
            cols = [[pairs[i].query for i in b], [pairs[i].positive for i in b]]
            if all(pairs[i].negative for i in b):
                cols.append([pairs[i].negative or "" for i in b])
            feats = [model.tokenize(c) for c in cols]
            ctx = (torch.autocast(device_type="cpu", dtype=torch.bfloat16) if bf16 else
                   _null())
            with ctx:
                loss = loss_fn(feats, None)
            loss.float().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            texts += sum(len(c) for c in cols)
            losses.append(round(float(loss.detach()), 5))
            if on_step:
                on_step(step, total, losses[-1])
    model.eval()
    out = Path(out)
    model.save(str(out))
    mid = _model_id(out)
    (out / META_FILE).write_text(json.dumps({"model_id": mid, "base": MODEL_ID,
                                             "dim": 384}, indent=1))
    wall = time.perf_counter() - t0
    return EmbedderTrainResult(
        out_dir=str(out), model_id=mid, pairs=len(pairs),
        hard_negatives=sum(1 for p in pairs if p.negative), skipped=skipped, steps=step,
        epochs=cfg.epochs, losses=tuple(losses), wall_s=round(wall, 1),
        texts_per_s=round(texts / wall, 2) if wall else 0.0, bf16=bf16)


def _null() -> Any:
    import contextlib

    return contextlib.nullcontext()


def is_embedder_folder(path: str | Path) -> bool:
    """A folder written by ``train_embedder`` (or any sentence-transformers model folder)."""
    p = Path(path)
    return p.is_dir() and (p / "modules.json").is_file()


class FolderEmbedder(TorchMiniLM):
    """A fine-tuned MiniLM folder (``--embedder DIR``): same tokenizer and dimension as
    all-MiniLM-L6-v2, its own weights and ``model_id``. Runs on sentence-transformers, fp32."""

    backend = "minilm-folder"

    def __init__(self, path: str | Path, *, threads: int | None = None,
                 batch_size: int | None = None) -> None:
        super().__init__(threads=threads, batch_size=batch_size)
        p = Path(path).expanduser()
        if not is_embedder_folder(p):
            raise ModelNotFoundError(
                f"{p} is not an embedder folder (no modules.json): give the --out folder of "
                "`ponder finetune embedder`")
        self.path = p.resolve()
        meta = p / META_FILE
        self.model_id = (json.loads(meta.read_text()).get("model_id") if meta.is_file()
                         else _model_id(p))
        self.name = str(self.path)

    def _load(self) -> None:
        offline_guard()
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self.threads)
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self._model.max_seq_length = self.max_tokens


__all__ = [
    "EmbedderTrainConfig",
    "EmbedderTrainResult",
    "FolderEmbedder",
    "Pair",
    "beir_pairs",
    "is_embedder_folder",
    "mine_bm25_negatives",
    "read_pairs",
    "train_embedder",
]
