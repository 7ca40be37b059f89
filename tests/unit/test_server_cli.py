"""``ponder keys``, ``ponder map`` and ``ponder serve``'s bind check, in their plain terminal
forms, on a fresh home with the fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli.main import app
from ponder.cli.serve import check_bind
from ponder.errors import ConfigError, InputError
from ponder.server.keys import KeyStore, hash_key
from ponder.store.collection import Collection


def _run(home: Path, *args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["--home", str(home), *args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, " ".join(r.stdout.split())


def test_keys_create_list_revoke_plain(home: Path) -> None:
    code, out = _run(home, "keys", "create", "--scope", "write", "--collections", "a,b",
                     "--name", "ci")
    assert code == 0, out
    key = out.split()[0]
    assert key.startswith("pk_")
    db = (home / "keys.sqlite").read_bytes()
    assert key.encode() not in db and hash_key(key).encode() in db  # only the hash is stored
    code, out = _run(home, "keys", "list")
    assert code == 0 and "ci" in out and "write" in out and key not in out
    rec = KeyStore(home).lookup(key)
    assert rec is not None and rec.collections == ("a", "b")
    code, out = _run(home, "keys", "revoke", rec.id)
    assert code == 0 and "revoked" in out
    assert KeyStore(home).lookup(key) is None
    code, out = _run(home, "keys", "list", "--json")
    assert json.loads(out) == []


def test_keys_bad_input_is_one_line_exit_2(home: Path) -> None:
    env = {**os.environ, "PONDER_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "ponder.cli.main", "keys", "create", "--scope",
                        "root"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "unknown scope 'root'" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(InputError, match="nokey"):
        _run(home, "keys", "revoke", "nokey")


def test_serve_refuses_a_public_host_without_keys(home: Path) -> None:
    check_bind("127.0.0.1", has_keys=False, insecure=False)
    check_bind("0.0.0.0", has_keys=True, insecure=False)
    check_bind("0.0.0.0", has_keys=False, insecure=True)
    with pytest.raises(ConfigError, match="--insecure"):
        check_bind("0.0.0.0", has_keys=False, insecure=False)
    env = {**os.environ, "PONDER_HOME": str(home), "PONDER_EMBEDDER": "hash",
           "PONDER_MODEL": "fake"}
    r = subprocess.run([sys.executable, "-m", "ponder.cli.main", "serve", "--host", "0.0.0.0",
                        "--port", "1"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2 and "--insecure" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture
def mapped(home: Path) -> Path:
    with Collection.create("notes", home=home, embedder="hash") as c:
        c.add(ids=[f"d{i}" for i in range(12)],
              texts=[f"{w} topic words number {i}" for i, w in
                     enumerate(["cats", "dogs", "stocks"] * 4)],
              metadatas=[{"topic": t} for t in ["pets", "pets", "markets"] * 4])
    return home


def test_map_html_and_png(mapped: Path, tmp_path: Path) -> None:
    code, out = _run(mapped, "map", "--collection", "notes", "--out",
                     str(tmp_path / "m.html"), "--color-by", "topic", "--method", "pca")
    assert code == 0, out
    assert "12 of 12 chunks" in out and "2 colour(s)" in out
    page = (tmp_path / "m.html").read_text()
    assert page.count("<circle") == 12 and "markets" in page and "cats topic words" in page
    code, out = _run(mapped, "map", "-c", "notes", "-o", str(tmp_path / "m.png"), "--sample",
                     "5", "--method", "pca")
    assert code == 0 and "5 of 12 chunks" in out
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"


def test_map_bad_output_name(mapped: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.html or \.png"):
        _run(mapped, "map", "-c", "notes", "-o", str(tmp_path / "m.txt"))


def test_serve_starts_answers_and_stops_cleanly_on_sigterm(home: Path) -> None:
    import signal
    import time

    import httpx

    from ponder.server.live import free_port

    port = free_port()
    env = {**os.environ, "PONDER_HOME": str(home), "PONDER_EMBEDDER": "hash",
           "PONDER_MODEL": "fake"}
    proc = subprocess.Popen([sys.executable, "-m", "ponder.cli.main", "serve", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").json().get("ready"):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        r = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={
            "model": "fake", "messages": [{"role": "user", "content": "hi"}]})
        assert r.json()["choices"][0]["message"]["content"] == "This is a scripted reply."
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err and f"127.0.0.1:{port}" in err
    finally:
        if proc.poll() is None:
            proc.kill()
