"""load_pydoc(): the standard library's documentation, quietly, deterministically, no secrets."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from ponder.errors import LoaderError
from ponder.ingest import DEMO_MODULES, load_pydoc, render_module, stdlib_modules
from ponder.types import LoadedDocument


def headings(doc: LoadedDocument) -> list[tuple[str, int]]:
    return [(doc.text[b.start : b.end], b.level) for b in doc.blocks if b.kind == "heading"]


def test_json_structure_and_metadata():
    doc = render_module("json")
    assert doc.source == "pydoc:json" and doc.doc_id is None
    assert doc.metadata["module"] == "json" and doc.metadata["kind"] == "pydoc"
    assert doc.metadata["url"].startswith("https://docs.python.org/")
    heads = headings(doc)
    assert heads[0] == ("module json", 1)
    assert ("FUNCTIONS", 2) in heads and ("CLASSES", 2) in heads
    assert any(h.startswith("dumps(obj") and level == 3 for h, level in heads)
    assert any(h.startswith("class JSONDecoder") and level == 3 for h, level in heads)
    # the module summary and description follow the module heading directly
    assert doc.text.startswith("module json\n\njson")
    assert "JSON (JavaScript Object Notation)" in doc.text


def test_noise_is_removed():
    doc = render_module("csv")
    text = doc.text
    assert "automatically generated from the Python" not in text  # MODULE REFERENCE note
    assert "FILE" not in [h for h, _ in headings(doc)]
    assert str(Path(sys.prefix)) not in text and "__init__.py" not in text
    assert "inherited from" not in text
    assert "__weakref__" not in text and "dictionary for instance variables" not in text
    assert "\n |  " not in text and not any(line.startswith("|") for line in text.splitlines())
    assert "sniff(self, sample, delimiters=None)" in text


def test_environment_paths_and_addresses_are_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PONDER_TEST_SECRET", "sk-do-not-index-me")
    (tmp_path / "ponder_fake_mod.py").write_text(
        textwrap.dedent(
            '''
            """A fake module."""
            import os
            import sys

            SENTINEL = object()
            environ = os.environ

            def read(env=os.environ, exe=sys.executable, marker=SENTINEL):
                """Read something."""
            '''
        ),
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    first = render_module("ponder_fake_mod")
    second = render_module("ponder_fake_mod")
    assert first.text == second.text
    assert "sk-do-not-index-me" not in first.text
    assert sys.executable not in first.text and "env=os.environ" in first.text
    assert "marker=<object object at 0x...>" in first.text
    assert "environ = " not in first.text  # runtime state dropped from DATA
    sys.modules.pop("ponder_fake_mod", None)


def test_import_failures_are_yielded_and_nothing_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    (tmp_path / "ponder_noisy_mod.py").write_text(
        'import sys\nprint("NOISE")\nprint("ERR", file=sys.stderr)\n"""Doc."""\n',
        encoding="utf-8",
    )
    (tmp_path / "ponder_broken_mod.py").write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    items = list(load_pydoc(["ponder_noisy_mod", "ponder_broken_mod", "no_such_module_xyz"]))
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert isinstance(items[0], LoadedDocument)
    assert [type(i).__name__ for i in items[1:]] == ["LoaderError", "LoaderError"]
    assert isinstance(items[1], LoaderError)
    assert items[1].source == "pydoc:ponder_broken_mod" and "boom" in items[1].reason
    assert "cannot be imported" in items[2].reason
    for name in ("ponder_noisy_mod", "ponder_broken_mod"):
        sys.modules.pop(name, None)


def test_stdlib_module_list():
    names = stdlib_modules()
    assert names == sorted(names)
    for name in ("json", "csv", "os", "sqlite3"):
        assert name in names
    for name in ("antigravity", "this", "tkinter", "idlelib", "turtle", "_csv", "test"):
        assert name not in names


def test_demo_modules_all_render():
    assert len(DEMO_MODULES) == len(set(DEMO_MODULES))
    for name in ("csv", "json", "pathlib", "os.path", "re", "sqlite3", "subprocess", "logging"):
        assert name in DEMO_MODULES
    docs = list(load_pydoc(DEMO_MODULES))
    failed = [d for d in docs if isinstance(d, LoaderError)]
    assert failed == []
    assert [d.metadata["module"] for d in docs] == list(DEMO_MODULES)
    assert sum(len(d.text) for d in docs) > 500_000
