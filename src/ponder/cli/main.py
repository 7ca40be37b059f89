"""The ``ponder`` command. Each command group lives in its own module under ``ponder.cli``
and registers itself through ``register(app)``; add a module name to ``COMMAND_MODULES``."""

from __future__ import annotations

import importlib
import sys

import typer

from ponder.cli.common import console_err, set_home, setup_logging
from ponder.errors import PonderError

COMMAND_MODULES = [
    "ingest", "search", "collections", "generate", "ask", "eval", "eval_qa", "eval_tasks",
    "tasks", "index",
    # serving (server, keys, map), LLMOps (ops, spark), chains/agents/moderation,
    # fine-tuning, safety evaluations
    "serve", "keys", "map", "ops", "spark", "chain", "moderate", "agent", "finetune",
    "eval_perplexity", "toxicity", "eval_safety",
]

app = typer.Typer(
    name="ponder",
    help="Local-first toolkit for LLM applications: ingest, search, ask, generate, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    home: str | None = typer.Option(
        None, "--home", help="Folder holding the collections (default: $PONDER_HOME)."
    ),
) -> None:
    set_home(home)
    setup_logging()


def register_commands(target: typer.Typer, names: list[str]) -> None:
    """Import ``ponder.cli.NAME`` for each name and let it ``register`` its commands.

    A missing module is a packaging error, so its ``ModuleNotFoundError`` propagates.
    """
    for name in names:
        importlib.import_module(f"ponder.cli.{name}").register(target)


register_commands(app, COMMAND_MODULES)


def main() -> None:
    """Entry point: run the app; a ``PonderError`` becomes one red line and exit status 2."""
    try:
        app(standalone_mode=False)
    except PonderError as e:
        console_err.print(f"[bold red]error:[/] {e}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        console_err.print("[yellow]interrupted[/]: work committed so far is kept")
        sys.exit(130)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except Exception as e:  # usage errors and aborted prompts, from typer or click
        if _is_abort(e):
            console_err.print("[yellow]aborted[/]: nothing was changed")
            sys.exit(1)
        show = getattr(e, "show", None)
        if callable(show) and isinstance(getattr(e, "exit_code", None), int):
            show()
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        raise


def _is_abort(e: BaseException) -> bool:
    """Typer >= 0.20 vendors click: its ``Abort`` is not click's, so match both."""
    if isinstance(e, typer.Abort):
        return True
    try:
        import click
    except ImportError:  # pragma: no cover
        return False
    return isinstance(e, click.exceptions.Abort)


if __name__ == "__main__":
    main()
