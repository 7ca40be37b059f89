"""Read-only SQL over CSV / JSONL files, loaded into an in-memory SQLite database.

One statement, ``SELECT`` (or ``WITH ... SELECT``) only: anything else is refused before it
runs, and a SQLite authorizer denies every write as a second line of defence. Results are
capped in rows and in time.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "pets.csv").write_text("name,legs\\ncat,4\\nbird,2\\n")
>>> sql = SQLTool([d / "pets.csv"])
>>> sql.run("SELECT SUM(legs) FROM pets")
'SUM(legs)\\n6'
>>> sql.run("DELETE FROM pets")
Traceback (most recent call last):
...
ponder.agents.tools.base.ToolError: only SELECT queries are allowed (got DELETE)
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.agents.tools.base import Tool, ToolError
from ponder.errors import InputError

_IDENT = re.compile(r"[^A-Za-z0-9_]+")
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION,
                    getattr(sqlite3, "SQLITE_RECURSIVE", 33)}


def _table_name(path: Path) -> str:
    name = _IDENT.sub("_", path.stem).strip("_").lower() or "data"
    return f"t_{name}" if name[0].isdigit() else name


def _typed(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if re.fullmatch(r"-?\d{1,18}", s):
            return int(s)
        if re.fullmatch(r"-?\d+\.\d*(?:[eE][-+]?\d+)?", s):
            return float(s)
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return v


def _rows(path: Path) -> tuple[list[str], list[list[Any]]]:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                   if line.strip()]
        cols: list[str] = []
        for r in records:
            for k in r:
                if k not in cols:
                    cols.append(k)
        return cols, [[_typed(r.get(c)) for c in cols] for r in records]
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise InputError(f"{path}: empty CSV file")
        return header, [[_typed(v) for v in row] for row in reader]


def statement_kind(query: str) -> str:
    """The first keyword of ``query`` (upper case), after checking it is one statement."""
    q = query.strip().rstrip(";").strip()
    if not q:
        raise ToolError("empty query: write one SELECT statement")
    if not sqlite3.complete_statement(q + ";") or _has_second_statement(q):
        raise ToolError("only one statement is allowed (remove the ';' and what follows)")
    return q.split(None, 1)[0].upper()


def _has_second_statement(q: str) -> bool:
    # a ';' outside quotes means a second statement
    inside: str | None = None
    for ch in q:
        if inside:
            if ch == inside:
                inside = None
        elif ch in ("'", '"', "`"):
            inside = ch
        elif ch == ";":
            return True
    return False


class SQLTool(Tool):
    """Tables named after the files (``scores.csv`` -> ``scores``)."""

    name = "sql"
    description = "runs one read-only SQLite SELECT over the tables {tables}"
    example = "SELECT COUNT(*) FROM {table}"
    input_gbnf = '("SELECT " | "select " | "WITH " | "with ") [^\\n;]{1,200}'

    def __init__(self, files: Sequence[str | Path], *, max_rows: int = 20,
                 timeout: float = 2.0) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.tables: dict[str, list[str]] = {}
        for f in files:
            path = Path(f)
            if not path.is_file():
                raise InputError(f"SQL tool: file {path} not found")
            cols, rows = _rows(path)
            table = _table_name(path)
            safe = [_IDENT.sub("_", c).strip("_") or f"c{i}" for i, c in enumerate(cols)]
            columns = ", ".join(f'"{c}"' for c in safe)
            self.db.execute(f'CREATE TABLE "{table}" ({columns})')
            self.db.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(safe))})',
                                [r + [None] * (len(safe) - len(r)) for r in rows])
            self.tables[table] = safe
        self.db.commit()
        self.db.set_authorizer(self._authorize)
        self.max_rows = max_rows
        self.timeout = timeout
        first = next(iter(self.tables), "data")
        listing = "; ".join(f"{t}({', '.join(c)})" for t, c in self.tables.items())
        self.description = self.description.format(tables=listing)
        self.example = self.example.format(table=first)

    @staticmethod
    def _authorize(action: int, *args: Any) -> int:
        return sqlite3.SQLITE_OK if action in _ALLOWED_ACTIONS else sqlite3.SQLITE_DENY

    def run(self, text: str) -> str:
        kind = statement_kind(text)
        if kind not in ("SELECT", "WITH"):
            raise ToolError(f"only SELECT queries are allowed (got {kind})")
        deadline = time.monotonic() + self.timeout

        def check() -> int:
            return 1 if time.monotonic() > deadline else 0

        self.db.set_progress_handler(check, 10_000)
        try:
            cur = self.db.execute(text.strip().rstrip(";"))
            rows = cur.fetchmany(self.max_rows + 1)
        except sqlite3.OperationalError as e:
            if "interrupted" in str(e):
                raise ToolError(f"query took longer than {self.timeout:g}s") from None
            raise ToolError(f"SQL error: {e}") from None
        except sqlite3.DatabaseError as e:
            raise ToolError(f"SQL error: {e}") from None
        finally:
            self.db.set_progress_handler(None, 0)
        header = [d[0] for d in cur.description or []]
        more = len(rows) > self.max_rows
        lines = [" | ".join(header)]
        lines += [" | ".join("" if v is None else str(v) for v in r) for r in rows[: self.max_rows]]
        if more:
            lines.append(f"... (more than {self.max_rows} rows: add LIMIT or aggregate)")
        return "\n".join(lines)


__all__ = ["SQLTool", "statement_kind"]
