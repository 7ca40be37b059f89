"""The command registry of ``ponder``: every listed module exists and a missing one fails loudly."""

from __future__ import annotations

import importlib.util

import pytest
import typer

from ponder.cli.main import COMMAND_MODULES, app, register_commands


def test_every_listed_command_module_exists_and_registers_something():
    for name in COMMAND_MODULES:
        assert importlib.util.find_spec(f"ponder.cli.{name}") is not None, name
    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    names = commands | {g.name for g in app.registered_groups}
    assert {"ingest", "search", "ask", "generate", "collections", "eval"} <= names


def test_a_misspelled_command_module_is_an_import_error_not_a_silent_skip():
    target = typer.Typer()
    with pytest.raises(ModuleNotFoundError, match=r"ponder\.cli\.serach"):
        register_commands(target, ["search", "serach"])
