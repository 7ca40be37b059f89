"""The loader registry: built-in and user loaders are found the same way, and mistakes in a
loader or its registration get errors that say what to change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.errors import ConfigError, LoaderError
from ponder.ingest import (
    SUPPORTED_EXTENSIONS,
    Loader,
    LoadResult,
    discover,
    load_path,
    load_path_report,
    loader_for,
    register_loader,
    unregister_loader,
)
from ponder.ingest.markdown import MarkdownLoader
from ponder.ingest.tabular import CsvLoader
from ponder.types import Block, LoadedDocument


class RstLoader(Loader):
    """Each line that is not blank becomes a text block."""

    extensions = (".rst", ".RST_TXT")

    def load(self, path: Path) -> LoadResult:
        text = path.read_text(encoding="utf-8")
        blocks, start = [], 0
        for line in text.splitlines(keepends=True):
            if line.strip():
                blocks.append(Block("text", start, start + len(line.rstrip("\n"))))
            start += len(line)
        doc = LoadedDocument(str(path), text, blocks, {"file_type": "rst"})
        return LoadResult([doc])


@pytest.fixture
def rst() -> Iterator[type[Loader]]:
    register_loader(RstLoader)
    yield RstLoader
    for ext in RstLoader.extensions:
        if ext.lower() in SUPPORTED_EXTENSIONS:
            unregister_loader(ext)


def test_every_builtin_loader_is_registered_under_its_extensions():
    assert sorted(SUPPORTED_EXTENSIONS) == [
        ".csv", ".htm", ".html", ".jsonl", ".markdown", ".md", ".pdf", ".txt",
    ]
    for ext in SUPPORTED_EXTENSIONS:
        loader = loader_for(ext)
        assert isinstance(loader, Loader) and ext in type(loader).extensions


def test_a_registered_loader_is_used_by_discover_and_load_path(tmp_path: Path, rst):
    (tmp_path / "a.rst").write_text("Title\n\nBody line.\n", encoding="utf-8")
    (tmp_path / "b.xyz").write_text("nobody reads this", encoding="utf-8")
    found = discover([tmp_path])
    assert [p.name for p in found.files] == ["a.rst"]
    assert [Path(p).name for p, _ in found.skipped] == ["b.xyz"]
    (doc,) = load_path(tmp_path / "a.rst")
    assert [doc.text[b.start : b.end] for b in doc.blocks] == ["Title", "Body line."]
    assert doc.metadata == {"file_type": "rst"}
    assert ".rst_txt" in SUPPORTED_EXTENSIONS  # extensions are matched lower-cased


def test_unregistered_type_names_the_fix(tmp_path: Path):
    (tmp_path / "a.rst").write_text("x", encoding="utf-8")
    with pytest.raises(LoaderError, match=r"unsupported file type '\.rst'.*register_loader"):
        load_path(tmp_path / "a.rst")
    with pytest.raises(ConfigError, match=r"unsupported file type '\.rst'"):
        loader_for(".rst")
    with pytest.raises(ConfigError, match=r"no loader reads '\.rst'; registered: \.csv"):
        unregister_loader(".rst")


def test_taking_over_an_extension_needs_replace(tmp_path: Path):
    class MyMarkdown(Loader):
        extensions = (".md",)

        def load(self, path: Path) -> LoadResult:
            text = path.read_text(encoding="utf-8")
            return LoadResult([LoadedDocument(str(path), text, [Block("text", 0, len(text))])])

    with pytest.raises(ConfigError, match="already read by MarkdownLoader; pass replace=True"):
        register_loader(MyMarkdown)
    assert type(loader_for(".md")) is MarkdownLoader  # a refused registration changes nothing
    (tmp_path / "a.md").write_text("# Kept as is", encoding="utf-8")
    try:
        register_loader(MyMarkdown, replace=True)
        assert load_path(tmp_path / "a.md")[0].text == "# Kept as is"
    finally:
        register_loader(MarkdownLoader, replace=True)
    assert load_path(tmp_path / "a.md")[0].text == "Kept as is"


def test_bad_registrations_are_refused_with_the_fix():
    class NoExtensions(Loader):
        def load(self, path: Path) -> LoadResult:
            return LoadResult([])

    class NoDot(NoExtensions):
        extensions = ("rst",)

    with pytest.raises(ConfigError, match="is not a Loader subclass: subclass"):
        register_loader(lambda path: [])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"NoExtensions has no extensions: set extensions"):
        register_loader(NoExtensions)
    with pytest.raises(ConfigError, match="extension 'rst' must start with a dot"):
        register_loader(NoDot)
    with pytest.raises(TypeError, match="abstract method"):
        Loader()  # type: ignore[abstract]


def test_a_loader_returning_the_wrong_type_is_named(tmp_path: Path):
    class Sloppy(Loader):
        extensions = (".sloppy",)

        def load(self, path: Path) -> LoadResult:
            return [LoadedDocument(str(path), "x", [])]  # type: ignore[return-value]

    register_loader(Sloppy)
    try:
        (tmp_path / "a.sloppy").write_text("x", encoding="utf-8")
        with pytest.raises(LoaderError, match=r"Sloppy\.load returned list, not a LoadResult"):
            load_path(tmp_path / "a.sloppy")
    finally:
        unregister_loader(".sloppy")


def test_row_loaders_get_the_text_field_from_the_ingest_options(tmp_path: Path):
    path = tmp_path / "rows.csv"
    path.write_text("id,body,title\n1,First body,One\n2,,Two\n", encoding="utf-8")
    loader = loader_for(".csv", text_field="body")
    assert isinstance(loader, CsvLoader) and loader.text_field == "body"
    result = loader.load(path)
    assert [d.text for d in result.documents] == ["First body"]
    assert len(result.skipped) == 1
    assert load_path_report(path, text_field="body") == (result.documents, result.skipped)
