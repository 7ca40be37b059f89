"""Every command in the README's CLI block, and its Python block, run as a user types them.

Each CLI line runs as its own ``ponder`` process (the real entry point, the plain terminal form
unless the README itself shows ``--json``) in a fresh ``PONDER_HOME``, in a working folder that
holds the tiny corpus the README's lines name (``docs/``, ``data.csv``, ``articles.jsonl``, ...).
The fakes stand in for the models (``PONDER_EMBEDDER=hash``, ``PONDER_MODEL=fake``), so the test
checks wiring, not model quality. A line passes when it exits 0 and prints no traceback; the test
reports every failing line at once. Lines that read ``../shared/datasets`` run when the data is
there and are skipped (named in the output) when it is not.

Add a line to the README and it is tested; if it needs an input file, add that file to
``CORPUS`` below.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"

CORPUS: dict[str, str] = {
    "docs/tea.md": (
        "---\ntopic: tea\nyear: 2024\n---\n# Brewing tea\n\n"
        "Black tea takes boiling water and four minutes.\n\n"
        "Green tea needs cooler water, about 80 degrees, and two minutes.\n"
    ),
    "docs/storage.md": (
        "---\ntopic: ponder\nyear: 2021\n---\n# Storage\n\n"
        "Chunks are stored in a SQLite catalog; the vector index is derived from it.\n"
    ),
    "docs/drafts/wip.md": "# Draft\n\nThis draft must not be ingested.\n",
    "data.csv": (
        "body,topic,year\n"
        "Oolong tea is partly oxidised and steeps for three minutes.,tea,2023\n"
        "The match went to extra time before the final whistle.,sports,2019\n"
    ),
    "articles.jsonl": (
        '{"id": "a1", "body": "The council approved the new park. Work starts in May. '
        'Residents asked for more trees. The budget is two million."}\n'
        '{"id": "a2", "body": "The river flooded the lower town. Shops closed for a week. '
        'Volunteers cleaned the streets. The water has gone down."}\n'
    ),
    "rows.jsonl": (
        '{"id": "r1", "text": "Rooibos is caffeine free and steeps for five minutes.", '
        '"year": 2022}\n'
        '{"id": "r2", "text": "Matcha is whisked, not steeped.", "year": 2024}\n'
    ),
    "train.jsonl": "".join(
        f'{{"prompt": "Sentiment of: {t}", "completion": "{lab}"}}\n'
        for t, lab in [("I loved the show", "positive"), ("The bus was late again", "negative"),
                       ("It opens at nine", "neutral"), ("Best coffee in town", "positive")]
    ),
    "pairs.jsonl": "".join(
        f'{{"query": "{q}", "positive": "{p}"}}\n'
        for q, p in [("how long to steep black tea", "Black tea takes four minutes."),
                     ("green tea water temperature", "Green tea needs water at 80 degrees."),
                     ("where are chunks stored", "Chunks are stored in a SQLite catalog."),
                     ("is rooibos caffeinated", "Rooibos is caffeine free.")]
    ),
    "person.json": (
        '{"type": "object", "properties": {"name": {"type": "string"}, '
        '"year": {"type": "integer"}}, "required": ["name", "year"]}'
    ),
    "yesno.gbnf": 'root ::= "yes" | "no"\n',
    "chain.toml": (
        '[chain]\nname = "draft-check-summarize"\ninputs = { topic = "str" }\n\n'
        '[[steps]]\nname = "draft"\nkind = "prompt"\n'
        'template = "Write three sentences about {topic}."\noutput = "draft"\n'
        'max_new_tokens = 48\n\n'
        '[[steps]]\nname = "check"\nkind = "moderate"\ninput = "draft"\noutput = "clean"\n'
        'policy = { pii = "redact", toxicity = "flag" }\n\n'
        '[[steps]]\nname = "summary"\nkind = "task"\ntask = "summarize"\ninput = "clean"\n'
    ),
}

FAKE_ENV = {"PONDER_EMBEDDER": "hash", "PONDER_MODEL": "fake"}


def model_for(line: str) -> str:
    """The generator a README line runs with: a scripted reply cannot satisfy a grammar or
    drive a tool-calling loop, so those lines get the real (small, embedded) model; beam search
    and its explanation need a next-token distribution, which the toy bigram model has."""
    if "--json-schema" in line or "--grammar" in line or line.startswith("ponder agent "):
        return "smollm2"
    if line.startswith("ponder generate "):
        return "toy"
    return FAKE_ENV["PONDER_MODEL"]

# Long-running commands: started, checked once ready, then stopped like a user would.
SERVERS = ("serve",)


def _block(title: str, lang: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(title)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(text, start)
    assert m, f"no ```{lang} block after {title!r} in README.md"
    return m.group(1)


def readme_commands() -> list[str]:
    """The CLI block's command lines, comments stripped.

    >>> all(c.startswith("ponder ") for c in readme_commands())
    True
    """
    lines = []
    for raw in _block("## The CLI", "bash").splitlines():
        line = re.sub(r"\s{2,}#.*$", "", raw).strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ponder(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "ponder.cli.main", *args]


def _run_server(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    port = _free_port()
    args = [*args, "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(_ponder(args), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    ok = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                ok = r.status == 200
                break
        except OSError:
            time.sleep(0.3)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        return 1, out + "\n(did not stop within 30 s of SIGTERM)"
    if not ok:
        return proc.returncode or 1, out + "\n(never answered /health)"
    return proc.returncode, out


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    cwd = tmp_path / "project"
    for rel, content in CORPUS.items():
        path = cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    if SHARED.is_dir():  # the README names ../shared/datasets, relative to the project
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env.update(FAKE_ENV, PONDER_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1",
               COLUMNS="120")
    return cwd, env


def test_readme_cli_block_runs_in_plain_form(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    commands = readme_commands()
    assert len(commands) >= 15, commands
    failures: list[str] = []
    skipped: list[str] = []
    for line in commands:
        args = shlex.split(line)[1:]
        if "../shared/datasets" in line and not SHARED.is_dir():
            skipped.append(line)
            continue
        cmd_env = dict(env, PONDER_MODEL=model_for(line))
        if args[0] in SERVERS:
            code, out = _run_server(args, cwd, cmd_env)
        else:
            # "y" answers a confirmation prompt (collections drop) as the user would
            r = subprocess.run(_ponder(args), cwd=cwd, env=cmd_env, capture_output=True,
                               text=True, timeout=600, input="y\n")
            code, out = r.returncode, r.stdout + r.stderr
        if code != 0 or "Traceback" in out:
            failures.append(f"$ {line}\n  exit {code}\n  " + out[-1500:].replace("\n", "\n  "))
    assert not failures, "README commands that fail:\n" + "\n".join(failures)
    if skipped:
        print("skipped (no ../shared/datasets):", *skipped, sep="\n  ")


def test_readme_ingest_plain_form_twice_reports_count(
    workdir: tuple[Path, dict[str, str]],
) -> None:
    """The first README command, plain form, on a fresh home and again: the crash users saw
    (the collection used after its ``with`` block closed it) ended both runs."""
    cwd, env = workdir
    for _ in range(2):
        r = subprocess.run(_ponder(["ingest", "docs/", "--collection", "notes"]), cwd=cwd,
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Traceback" not in r.stdout + r.stderr
        assert "collection 'notes': 3 chunks" in r.stdout  # drafts/ is not excluded here


def test_readme_python_block_runs(workdir: tuple[Path, dict[str, str]]) -> None:
    cwd, env = workdir
    code = _block("## The Python API", "python")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
