"""CSV and JSONL: one document per row, text_field, metadata types, bad rows reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.errors import LoaderError
from ponder.ingest import load_path, load_path_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest"


def test_csv_rows_metadata_and_skips():
    path = FIXTURES / "reviews.csv"
    source = str(path.resolve())
    docs, skipped = load_path_report(path)
    assert [d.text for d in docs] == ["Great tea, would buy again.", "Too bitter."]
    assert [d.doc_id for d in docs] == [f"{source}#row=1", f"{source}#row=3"]
    assert all(d.source == source for d in docs)
    first, third = (d.metadata for d in docs)
    assert first["id"] == 1 and first["stars"] == 5 and first["price"] == 4.5
    assert first["zip"] == "007"  # leading zeros stay a string
    assert "note" not in first  # empty cells are left out
    assert "text" not in first
    assert first["file_type"] == "csv" and first["row"] == 1
    assert third["note"] == 'say "hi"' and third["price"] == 3.25 and third["zip"] == 90210
    assert [row for row, _ in skipped] == [f"{source}#row=2", f"{source}#row=4"]
    assert "no text" in skipped[0][1]
    assert "8 cells" in skipped[1][1] and "header has 6" in skipped[1][1]
    assert [d.text for d in load_path(path)] == [d.text for d in docs]


def test_csv_text_field_and_missing_column(tmp_path: Path):
    path = tmp_path / "t.csv"
    path.write_text("title;body;year\nTea;Hot water.;2020\nCoffee;Beans.;2021\n", encoding="utf-8")
    docs = load_path(path, text_field="body")
    assert [(d.text, d.metadata["title"], d.metadata["year"]) for d in docs] == [
        ("Hot water.", "Tea", 2020),
        ("Beans.", "Coffee", 2021),
    ]
    with pytest.raises(LoaderError) as info:
        load_path(path)
    assert "'title', 'body', 'year'" in info.value.reason and "--text-field" in info.value.reason
    with pytest.raises(LoaderError, match="has no column 'content'"):
        load_path(path, text_field="content")


def test_csv_multiline_and_tab_delimited(tmp_path: Path):
    path = tmp_path / "m.csv"
    path.write_text('text\tn\n"Para one.\n\nPara two."\t1\n', encoding="utf-8")
    [doc] = load_path(path)
    assert doc.text == "Para one.\n\nPara two."
    assert [doc.text[b.start : b.end] for b in doc.blocks] == ["Para one.", "Para two."]


def test_csv_header_only_and_all_rows_bad(tmp_path: Path):
    (tmp_path / "h.csv").write_text("text,a\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="no data rows"):
        load_path(tmp_path / "h.csv")
    (tmp_path / "b.csv").write_text("text,a\n,1\n  ,2\n", encoding="utf-8")
    docs, skipped = load_path_report(tmp_path / "b.csv")
    assert docs == [] and len(skipped) == 2
    with pytest.raises(LoaderError, match="no usable rows: all 2 were skipped"):
        load_path(tmp_path / "b.csv")


def test_jsonl_text_field_and_bad_lines():
    path = FIXTURES / "reviews.jsonl"
    source = str(path.resolve())
    with pytest.raises(LoaderError) as info:
        load_path(path)
    assert "'body', 'stars', 'tags'" in info.value.reason
    assert "--text-field" in info.value.reason
    docs, skipped = load_path_report(path, text_field="body")
    assert [(d.text, d.doc_id) for d in docs] == [
        ("Lovely aroma.", f"{source}#row=1"),
        ("Stale leaves.", f"{source}#row=2"),
    ]
    assert docs[0].metadata == {
        "stars": 5,
        "tags": ["green"],
        "file_type": "jsonl",
        "file_name": "reviews.jsonl",
        "row": 1,
    }
    reasons = dict(skipped)
    assert list(reasons) == [f"{source}#row={n}" for n in (3, 5, 6, 7)]
    assert reasons[f"{source}#row=3"].startswith("invalid JSON")
    assert "not an object" in reasons[f"{source}#row=5"]
    assert "no text" in reasons[f"{source}#row=6"] and "no text" in reasons[f"{source}#row=7"]


def test_jsonl_default_text_field_and_non_string_values(tmp_path: Path):
    rows = [{"text": "Alpha."}, {"text": 42}, {"text": ["x"]}, {"text": None}, {"other": 1}]
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    docs, skipped = load_path_report(path)
    assert [d.text for d in docs] == ["Alpha.", "42"]
    assert [r.rsplit("=", 1)[1] for r, _ in skipped] == ["3", "4", "5"]
    assert "list, not text" in skipped[0][1]


def test_jsonl_all_lines_invalid(tmp_path: Path):
    (tmp_path / "bad.jsonl").write_text("{nope\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"no usable rows.*row=1: invalid JSON"):
        load_path(tmp_path / "bad.jsonl")
