"""Finding the files to ingest: ``discover(paths, include, exclude)``.

Folders are walked recursively in sorted order; hidden files and folders (names starting with
``.``) are skipped. ``include`` / ``exclude`` are glob patterns matched against each file's path
relative to the folder that was given *and* against its bare name: ``*`` and ``?`` stay within
one path segment, ``**`` crosses segments (``drafts/**``, ``**/notes/*.md``). An ``exclude``
pattern that matches a folder (``drafts``, ``node_modules``) prunes it.

>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     root = pathlib.Path(d)
...     for name in ["a.md", "b.txt", "drafts/c.md", ".hidden/d.md", "e.png"]:
...         (root / name).parent.mkdir(parents=True, exist_ok=True)
...         _ = (root / name).write_text("x")
...     found = discover([root], exclude=["drafts/**"])
...     [f.name for f in found.files], [(pathlib.Path(s).name, r[:25]) for s, r in found.skipped]
(['a.md', 'b.txt'], [('e.png', "unsupported file type '.p")])
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ponder.ingest.registry import SUPPORTED_EXTENSIONS, unsupported_reason


@dataclass
class DiscoveryResult:
    """Files to load (absolute, sorted, unique) and what was skipped, as ``(path, reason)``."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def discover(
    paths: Sequence[str | Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> DiscoveryResult:
    """List the supported files under ``paths`` (files or folders), honouring the patterns.

    Files named explicitly are kept even if hidden, but unsupported or filtered-out ones are
    reported in ``skipped``. Inside folders, unsupported files are reported and files that do
    not pass ``include``/``exclude`` are left out silently.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    inc = [_compile(p) for p in include]
    exc = [_compile(p) for p in exclude]
    files: dict[str, Path] = {}
    skipped: list[tuple[str, str]] = []
    for given in paths:
        root = Path(given).expanduser()
        shown = str(root.absolute())
        if not root.exists():
            skipped.append((shown, "no such file or folder; check the path"))
        elif root.is_file():
            reason = _file_reason(root.name, root.name, inc, exc, include, exclude)
            if reason:
                skipped.append((shown, reason))
            else:
                resolved = root.resolve()
                files[str(resolved)] = resolved
        elif root.is_dir():
            before = len(files)
            _walk(root, inc, exc, files, skipped)
            if len(files) == before:
                skipped.append(
                    (
                        shown,
                        "no supported files found in this folder (supported: "
                        f"{', '.join(sorted(SUPPORTED_EXTENSIONS))})",
                    )
                )
        else:
            skipped.append((shown, "not a regular file or folder"))
    return DiscoveryResult(
        files=[files[k] for k in sorted(files)],
        skipped=sorted(set(skipped)),
    )


def _walk(
    root: Path,
    inc: list[re.Pattern[str]],
    exc: list[re.Pattern[str]],
    files: dict[str, Path],
    skipped: list[tuple[str, str]],
) -> None:
    def unreadable(error: OSError) -> None:
        where = str(Path(error.filename or root).absolute())
        skipped.append((where, f"cannot be read ({error.strerror}); check its permissions"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not _matches(exc, f"{rel_dir}{d}", d)
        )
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = f"{rel_dir}{name}"
            if exc and _matches(exc, rel, name):
                continue
            if inc and not _matches(inc, rel, name):
                continue
            path = Path(dirpath, name)
            if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                skipped.append((str(path.absolute()), unsupported_reason(path.suffix.lower())))
                continue
            if not path.is_file():
                continue  # a broken link, a socket...
            resolved = path.resolve()
            files[str(resolved)] = resolved


def _file_reason(
    rel: str,
    name: str,
    inc: list[re.Pattern[str]],
    exc: list[re.Pattern[str]],
    include: Sequence[str],
    exclude: Sequence[str],
) -> str | None:
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        return unsupported_reason(suffix)
    for pattern, raw in zip(exc, exclude, strict=True):
        if _matches([pattern], rel, name):
            return f"excluded by the pattern {raw!r}"
    if inc and not _matches(inc, rel, name):
        return f"matches none of the include patterns {list(include)!r}"
    return None


def _matches(patterns: list[re.Pattern[str]], rel: str, name: str) -> bool:
    return any(p.fullmatch(rel) or p.fullmatch(name) for p in patterns)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    """Translate a glob into a regex: ``**`` crosses folders, ``*`` and ``?`` do not.

    >>> bool(_compile("drafts/**").fullmatch("drafts/a/b.md"))
    True
    >>> bool(_compile("*.md").fullmatch("a/b.md"))  # but discover() also tries the bare name
    False
    >>> bool(_compile("**/notes/*.md").fullmatch("notes/x.md"))
    True
    """
    pattern = pattern.replace("\\", "/").strip()
    pattern = pattern.removeprefix("./").rstrip("/") or "**"
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body + "]")
                i = j + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))
