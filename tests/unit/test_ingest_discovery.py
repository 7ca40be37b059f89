"""discover(): recursion, sorting, hidden files, include/exclude globs, skip reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.ingest import discover


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for rel in [
        "b.md",
        "a.txt",
        "notes/z.md",
        "notes/deep/y.markdown",
        "notes/table.CSV",
        "drafts/d.md",
        "drafts/sub/e.md",
        ".git/config.txt",
        "notes/.secret.md",
        "img/photo.png",
        "node_modules/pkg/readme.md",
        "page.HTML",
    ]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x", encoding="utf-8")
    return tmp_path


def rels(root: Path, files: list[Path]) -> list[str]:
    return [f.relative_to(root.resolve()).as_posix() for f in files]


def test_recursive_sorted_and_hidden_skipped(tree: Path):
    found = discover([tree])
    assert rels(tree, found.files) == [
        "a.txt",
        "b.md",
        "drafts/d.md",
        "drafts/sub/e.md",
        "node_modules/pkg/readme.md",
        "notes/deep/y.markdown",
        "notes/table.CSV",
        "notes/z.md",
        "page.HTML",
    ]
    assert all(f.is_absolute() for f in found.files)
    assert [(Path(p).name, r.split(";")[0]) for p, r in found.skipped] == [
        ("photo.png", "unsupported file type '.png'")
    ]


def test_include_exclude(tree: Path):
    only_md = discover([tree], include=["*.md"])
    assert rels(tree, only_md.files) == [
        "b.md",
        "drafts/d.md",
        "drafts/sub/e.md",
        "node_modules/pkg/readme.md",
        "notes/z.md",
    ]
    assert only_md.skipped == []  # the .png is filtered out, not reported
    pruned = discover(
        [tree], include=["*.md", "**/*.markdown"], exclude=["drafts/**", "node_modules"]
    )
    assert rels(tree, pruned.files) == ["b.md", "notes/deep/y.markdown", "notes/z.md"]
    by_path = discover([tree], include=["notes/*"])
    assert rels(tree, by_path.files) == ["notes/table.CSV", "notes/z.md"]
    by_folder_glob = discover([tree], exclude=["notes/**", "*.txt", "drafts", "node_modules"])
    assert rels(tree, by_folder_glob.files) == ["b.md", "page.HTML"]


def test_explicit_files_missing_paths_and_duplicates(tree: Path):
    found = discover(
        [
            tree / "b.md",
            tree / "notes",
            tree / "missing.md",
            tree / "notes/.secret.md",
            tree / "b.md",
        ]
    )
    assert rels(tree, found.files) == [
        "b.md",
        "notes/.secret.md",  # named explicitly, so kept although hidden
        "notes/deep/y.markdown",
        "notes/table.CSV",
        "notes/z.md",
    ]
    assert [(Path(p).name, r) for p, r in found.skipped] == [
        ("missing.md", "no such file or folder; check the path")
    ]


def test_explicit_file_filtered_or_unsupported_is_reported(tree: Path):
    found = discover([tree / "a.txt", tree / "img/photo.png"], exclude=["*.txt"])
    assert found.files == []
    reasons = {Path(p).name: r for p, r in found.skipped}
    assert reasons["a.txt"] == "excluded by the pattern '*.txt'"
    assert reasons["photo.png"].startswith("unsupported file type '.png'")
    found = discover([tree / "a.txt"], include=["*.md"])
    assert "matches none of the include patterns" in found.skipped[0][1]


def test_empty_folder_is_reported(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    found = discover([tmp_path / "empty"])
    assert found.files == []
    assert "no supported files" in found.skipped[0][1]


def test_accepts_a_single_string(tree: Path):
    assert rels(tree, discover(str(tree / "b.md")).files) == ["b.md"]  # type: ignore[arg-type]
