"""Read BEIR-format retrieval data and load its corpus into a collection.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``, ``score``, with a
header row). Only the queries that have judgments in the split are evaluated, as in BEIR.

>>> import json, tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "x"}))
>>> _ = (d / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "what?"}) + "\\n"
...                                      + json.dumps({"_id": "q2", "text": "unjudged"}))
>>> (d / "qrels").mkdir()
>>> _ = (d / "qrels" / "test.tsv").write_text("query-id\\tcorpus-id\\tscore\\nq1\\td1\\t1\\n")
>>> data = load_beir(d, "test")
>>> data.corpus["d1"].text, data.queries, data.qrels
('T\\n\\nx', {'q1': 'what?'}, {'q1': {'d1': 1}})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ponder.errors import InputError

if TYPE_CHECKING:
    from ponder.store.collection import Collection

Qrels = dict[str, dict[str, int]]  # query id -> {doc id: graded relevance}


@dataclass(frozen=True)
class BeirDoc:
    """One corpus document. ``text`` is what is indexed: the title, a blank line, the body."""

    id: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}" if self.title else self.body


@dataclass
class BeirData:
    """A BEIR data set restricted to one split: ``queries`` holds only judged queries."""

    name: str
    split: str
    corpus: dict[str, BeirDoc]
    queries: dict[str, str]
    qrels: Qrels


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    if not path.is_file():
        raise InputError(
            f"{path} not found; a BEIR folder needs corpus.jsonl, queries.jsonl and "
            "qrels/<split>.tsv (download a BEIR data set and unzip it)"
        )
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: not valid JSON ({e.msg}); fix the line") from None


def load_qrels(path: Path) -> Qrels:
    """Read a BEIR qrels TSV (a header row, then ``query-id corpus-id score``)."""
    if not path.is_file():
        available = (
            sorted(p.stem for p in path.parent.glob("*.tsv")) if path.parent.is_dir() else []
        )
        raise InputError(
            f"{path} not found; choose a split that exists (found: {available or 'none'})"
        )
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            parts = line.rstrip("\n").split("\t")
            if not line.strip() or (n == 1 and not parts[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or the header row
            if len(parts) != 3:
                raise InputError(f"{path}:{n}: expected 3 tab-separated fields, got {len(parts)}")
            qid, did, score = parts
            try:
                qrels.setdefault(qid, {})[did] = int(score)
            except ValueError:
                raise InputError(f"{path}:{n}: relevance {score!r} is not an integer") from None
    return qrels


def load_corpus(folder: str | Path) -> dict[str, BeirDoc]:
    corpus: dict[str, BeirDoc] = {}
    for row in _jsonl(Path(folder) / "corpus.jsonl"):
        did = str(row["_id"])
        corpus[did] = BeirDoc(did, str(row.get("title") or "").strip(), str(row.get("text") or ""))
    return corpus


def load_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Load a BEIR folder's corpus, the queries judged in ``split`` and their qrels."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"BEIR folder {folder} not found; give the folder holding corpus.jsonl")
    qrels = load_qrels(folder / "qrels" / f"{split}.tsv")
    queries = {
        str(r["_id"]): str(r["text"])
        for r in _jsonl(folder / "queries.jsonl")
        if str(r["_id"]) in qrels
    }
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise InputError(
            f"{len(missing)} judged queries of split {split!r} are not in queries.jsonl "
            f"(e.g. {missing[:3]}); the folder is incomplete"
        )
    return BeirData(folder.name, split, load_corpus(folder), queries, qrels)


def ingest_corpus(
    collection: Collection,
    corpus: dict[str, BeirDoc],
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Add the corpus to ``collection`` (one record per document, id = the BEIR ``_id``).

    Idempotent and resumable: documents already stored with the same text are skipped, so only
    new or changed ones are embedded; each batch is one transaction. Returns how many were added.
    ``progress(n)`` is called with the number of documents handled (skipped ones included).
    """
    from ponder.store.collection import text_hash

    docs = list(corpus.values())
    stored = collection.catalog.document_hashes([d.id for d in docs])
    todo = []
    for d in docs:
        meta = {"title": d.title}
        if stored.get(d.id) == text_hash(d.text + json.dumps(meta, sort_keys=True)):
            continue
        todo.append(d)
    if progress and len(docs) > len(todo):
        progress(len(docs) - len(todo))
    for i in range(0, len(todo), batch_size):
        batch = todo[i : i + batch_size]
        collection.add(
            ids=[d.id for d in batch],
            texts=[d.text for d in batch],
            metadatas=[{"title": d.title} for d in batch],
        )
        if progress:
            progress(len(batch))
    return len(todo)
