"""The Python standard library's own documentation as documents: one per module, offline.

Text comes from ``pydoc.render_doc(module, renderer=pydoc.plaintext)`` on the running
interpreter, reshaped for retrieval: the module is a level-1 heading followed by its summary
and description, pydoc's other sections (CLASSES, FUNCTIONS, DATA...) are level 2, and each
class and function level 3. Left out as noise, or as facts about this machine rather than
documentation: the boilerplate MODULE REFERENCE note (its URL goes to ``metadata["url"]``), the
FILE path, members inherited from base classes, ``__dict__``/``__weakref__`` entries, runtime
values (``os.environ`` and ``sys.path`` entries, environment reprs in default arguments,
interpreter and home paths) and memory addresses, so the text is the same on every run and
holds no secrets from the environment.

>>> doc = render_module("bisect")
>>> doc.source, doc.metadata["module"], doc.metadata["kind"]
('pydoc:bisect', 'bisect', 'pydoc')
>>> [doc.text[b.start:b.end] for b in doc.blocks if b.kind == "heading"][:2]
['module bisect', 'FUNCTIONS']
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pydoc
import re
import sys
import textwrap
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ponder.errors import ConfigError, LoaderError
from ponder.ingest.textutil import DocumentBuilder
from ponder.types import LoadedDocument

# A curated set of commonly used modules for the demo collection: about 2,000 chunks of 200
# MiniLM tokens (see the package README for the measured figure).
DEMO_MODULES: tuple[str, ...] = (
    "argparse",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "collections.abc",
    "concurrent.futures",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "difflib",
    "enum",
    "fnmatch",
    "functools",
    "glob",
    "gzip",
    "hashlib",
    "heapq",
    "io",
    "itertools",
    "json",
    "logging",
    "math",
    "os",
    "os.path",
    "pathlib",
    "pickle",
    "platform",
    "pprint",
    "queue",
    "random",
    "re",
    "secrets",
    "shlex",
    "shutil",
    "sqlite3",
    "statistics",
    "string",
    "struct",
    "subprocess",
    "sys",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "time",
    "timeit",
    "traceback",
    "typing",
    "unittest",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "zipfile",
    "zlib",
)

# Names the folder of the Python library reference's HTML pages (see ``reference_dir``).
REFERENCE_ENV = "PONDER_PYTHON_DOCS"

# Never imported: they open windows or browsers, print on import, or are tests and internals.
_EXCLUDED = frozenset(
    {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "test", "pydoc_data"}
)
_SECTION = re.compile(r"^[A-Z][A-Z ]*[A-Z]$")
_CLASS_LINE = re.compile(r"^ {4}(?:\w+ = )?class \w")
_BAR = re.compile(r"^ {4} \|(?: {2}|\s*$)")
_RULE = re.compile(r"^-{20,}\s*$")
_INHERITED = re.compile(r"^\w[\w ]* inherited from .*:$")
_SUBSECTION = re.compile(r"^\w[\w ]* (?:defined here|inherited from .*):$")
_ADDRESS = re.compile(r"( at | handle )(?:0x)?[0-9a-fA-F]{6,}\b")
_DATA_ENTRY = re.compile(r"^ {4}(\w+) = ")
_ENVIRON_REPR = re.compile(r"environ\(\{.*")
# Module attributes that hold this process's state, not documentation (they may hold secrets).
_RUNTIME_DATA = frozenset(
    {
        "environ",
        "environb",
        "argv",
        "orig_argv",
        "modules",
        "path",
        "meta_path",
        "path_hooks",
        "path_importer_cache",
        "executable",
        "_base_executable",
        "prefix",
        "exec_prefix",
        "base_prefix",
        "base_exec_prefix",
        "platlibdir",
        "pycache_prefix",
        "stdin",
        "stdout",
        "stderr",
        "__stdin__",
        "__stdout__",
        "__stderr__",
        "warnoptions",
        "_xoptions",
    }
)
_BOILERPLATE = frozenset({"__dict__", "__weakref__"})


def stdlib_modules() -> list[str]:
    """Top-level standard-library modules worth documenting, sorted (nothing imported yet).

    >>> names = stdlib_modules()
    >>> "json" in names and "antigravity" not in names and "_csv" not in names
    True
    """
    return sorted(
        name
        for name in sys.stdlib_module_names
        if not name.startswith("_") and not name.startswith("xx") and name not in _EXCLUDED
    )


def load_pydoc(modules: Sequence[str] | None = None) -> Iterator[LoadedDocument | LoaderError]:
    """Yield one document per module (all of :func:`stdlib_modules` when ``modules`` is None).

    A module that cannot be imported or rendered is yielded as a ``LoaderError``, not raised.
    Nothing is printed: output during import and rendering is captured.

    >>> items = list(load_pydoc(["heapq", "no_such_module"]))
    >>> items[0].source, type(items[1]).__name__
    ('pydoc:heapq', 'LoaderError')
    """
    for name in stdlib_modules() if modules is None else modules:
        try:
            yield render_module(name)
        except LoaderError as exc:
            yield exc


def render_module(name: str) -> LoadedDocument:
    """Import ``name`` quietly and turn its pydoc text into a document; ``LoaderError`` if not."""
    source = f"pydoc:{name}"
    with _quiet():
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as exc:
            raise LoaderError(
                source,
                f"cannot be imported ({type(exc).__name__}: {exc}); it is not available on this "
                "platform or Python build, so leave it out",
            ) from None
        try:
            rendered = pydoc.render_doc(module, renderer=pydoc.plaintext)
        except (Exception, SystemExit) as exc:
            raise LoaderError(
                source, f"pydoc cannot render it ({type(exc).__name__}: {exc}); leave it out"
            ) from None
    return parse_pydoc_text(_scrub_environment(rendered), name, module)


def parse_pydoc_text(rendered: str, name: str, module: ModuleType | None = None) -> LoadedDocument:
    """Reshape pydoc's plain text for ``name`` into headings and paragraphs."""
    lines = _ADDRESS.sub(r"\g<1>0x...", rendered).split("\n")
    metadata: dict[str, Any] = {"module": name, "kind": "pydoc"}
    builder = DocumentBuilder()
    builder.heading(f"module {name}", 1)
    sections: list[tuple[str, list[str]]] = []
    for line in lines[1:]:
        if _SECTION.match(line):
            sections.append((line.strip(), []))
        elif sections:
            sections[-1][1].append(line)
    for title, body in sections:
        if title == "MODULE REFERENCE":
            url = next((ln.strip() for ln in body if ln.strip().startswith("http")), None)
            if url:
                metadata["url"] = url
            continue
        if title == "FILE":
            continue
        if title == "NAME":
            summary = " ".join(" ".join(body).split())
            if " - " in summary:
                metadata["title"] = summary
        if title == "DATA":
            body = _scrub_data(body)
        if not any(ln.strip() for ln in body):
            continue
        if title not in ("NAME", "DESCRIPTION"):
            builder.heading(title, 2)
        if title == "CLASSES":
            _add_members(builder, body, _CLASS_LINE.match)
        elif title == "FUNCTIONS":
            _add_members(builder, body, lambda ln: ln.startswith("    ") and ln[4:5].strip())
        else:
            _add_paragraphs(builder, body)
    return builder.build(f"pydoc:{name}", metadata)


def _add_members(builder: DocumentBuilder, body: list[str], is_member: Any) -> None:
    """Each member (class or function) line becomes a level-3 heading followed by its text."""
    current: list[str] = []
    for line in body:
        if is_member(line):
            _add_paragraphs(builder, _clean_class_body(current))
            current = []
            builder.heading(line.strip(), 3)
        else:
            current.append(line)
    _add_paragraphs(builder, _clean_class_body(current))


def _clean_class_body(lines: list[str]) -> list[str]:
    """Remove the ``|`` gutter of class bodies, inherited members and ``__dict__`` boilerplate."""
    if not any(_BAR.match(ln) for ln in lines):
        return lines
    out: list[str] = []
    dropping = False  # inside a "... inherited from X:" subsection
    for line in lines:
        inner = "    " + _BAR.sub("", line) if _BAR.match(line) else line
        stripped = inner.strip()
        if _RULE.match(stripped):
            dropping = False
            out.append("")
        elif _is_entry(inner) and _INHERITED.match(stripped):
            dropping = True
        elif not dropping:
            out.append(inner)
    out = _drop_boilerplate_entries(out)
    # Subsection titles ("Methods defined here:") left with nothing under them.
    kept: list[str] = []
    for i, line in enumerate(out):
        if _is_entry(line) and _SUBSECTION.match(line.strip()):
            rest = (ln for ln in out[i + 1 :] if ln.strip())
            following = next(rest, None)
            if following is None or _SUBSECTION.match(following.strip()):
                continue
        kept.append(line)
    return kept


def _is_entry(line: str) -> bool:
    """A line at the members' margin (four spaces), not a description under one."""
    return line.startswith("    ") and line[4:5].strip() != ""


def _drop_boilerplate_entries(lines: list[str]) -> list[str]:
    """Drop ``__dict__`` / ``__weakref__`` entries (a name line plus its indented description)."""
    out: list[str] = []
    dropping = False
    for line in lines:
        if _is_entry(line):
            dropping = line.strip() in _BOILERPLATE
        if not dropping:
            out.append(line)
    return out


def _add_paragraphs(builder: DocumentBuilder, lines: list[str]) -> None:
    """Blank-line separated paragraphs, each dedented to its own margin."""
    para: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            para.append(line.rstrip())
        elif para:
            builder.text(textwrap.dedent("\n".join(para)))
            para = []


def _scrub_environment(rendered: str) -> str:
    """Hide this machine's environment and paths (default values in signatures show them)."""
    for value, name in ((os.environ, "os.environ"), (os.environb, "os.environb")):
        rendered = rendered.replace(repr(value), name)
    # A safety net for partial or changed reprs: nothing after "environ({" is kept on the line.
    rendered = _ENVIRON_REPR.sub("os.environ", rendered)
    for old, new in _local_paths():
        rendered = rendered.replace(old, new)
    return rendered


def _local_paths() -> list[tuple[str, str]]:
    """(path, placeholder) pairs for the interpreter's and the user's paths, longest first."""
    pairs = {
        p: "<python>"
        for p in (
            sys.executable,
            getattr(sys, "_base_executable", ""),
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sys.base_exec_prefix,
        )
        if p and len(p) > 1
    }
    home = os.path.expanduser("~")
    if len(home) > 1:
        pairs.setdefault(home, "~")
    return sorted(pairs.items(), key=lambda kv: -len(kv[0]))


def _scrub_data(body: list[str]) -> list[str]:
    """Drop the entries of a DATA section that hold this process's state."""
    return [
        line
        for line in body
        if not ((m := _DATA_ENTRY.match(line)) and m.group(1) in _RUNTIME_DATA)
    ]


def reference_dir() -> Path | None:
    """The folder of the official Python library reference (HTML) for this interpreter, or
    ``None`` when it is not installed.

    ``$PONDER_PYTHON_DOCS`` names it explicitly (a ``library`` folder of ``MODULE.html``
    pages, or the HTML root above it); otherwise Debian's ``python3-doc`` location,
    ``/usr/share/doc/python3.X/html/library``, is used when present. The reference has what
    pydoc lacks on recent Pythons: descriptions of classes without docstrings
    (``csv.DictReader``), usage examples and cross-references.

    >>> import os
    >>> os.environ[REFERENCE_ENV] = "/no/such/folder"
    >>> reference_dir()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ponder.errors.ConfigError: PONDER_PYTHON_DOCS=/no/such/folder is not a folder of ...
    >>> del os.environ[REFERENCE_ENV]
    """
    explicit = os.environ.get(REFERENCE_ENV, "").strip()
    if explicit:
        root = Path(explicit).expanduser()
        for cand in (root, root / "library"):
            if cand.is_dir() and any(cand.glob("*.html")):
                return cand
        raise ConfigError(
            f"{REFERENCE_ENV}={explicit} is not a folder of the Python library reference's HTML "
            "pages (MODULE.html, or a html/ root with library/ inside); point it at one (on "
            f"Debian: apt-get install python3-doc) or unset {REFERENCE_ENV} to use pydoc"
        )
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    default = Path(f"/usr/share/doc/python{minor}/html/library")
    return default if default.is_dir() else None


def reference_pages(modules: Sequence[str]) -> dict[str, Path]:
    """``{module: page}`` for the modules whose reference page is installed (see
    :func:`reference_dir`); modules without one are left out (use pydoc for them)."""
    folder = reference_dir()
    if folder is None:
        return {}
    pages = {name: folder / f"{name}.html" for name in modules}
    return {name: page for name, page in pages.items() if page.is_file()}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Capture anything printed and silence warnings while importing and rendering."""
    sink = io.StringIO()
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        warnings.simplefilter("ignore")
        yield
