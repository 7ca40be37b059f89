"""``ponder moderate TEXT|--input FILE [--policy ...] [--no-toxicity] [--json]``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from ponder.cli.common import console, console_err, print_json
from ponder.errors import InputError


def moderate(
    text: str | None = typer.Argument(None, help="The text ('-' reads stdin)."),
    input: Path | None = typer.Option(
        None, "--input", "-i", help="Read the text from this file."
    ),
    policy: str | None = typer.Option(
        None, "--policy", "-p",
        help="category=action,... (allow|flag|redact|block; categories: profanity, email, "
             "phone, credit_card, iban, ip_address, national_id, pii, toxicity) or a "
             ".toml/.json file.",
    ),
    toxicity: bool = typer.Option(True, "--toxicity/--no-toxicity",
                                  help="Score toxicity (classifier, else the LLM)."),
    toxicity_method: str = typer.Option(
        "auto", "--toxicity-method", help="auto (classifier if usable, else LLM), classifier, llm."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Model for the LLM toxicity."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Find profanity, PII (checksum-validated) and toxicity; redact, flag or block."""
    from ponder.moderate import moderate as run

    if input is not None:
        if text is not None:
            raise InputError("give TEXT or --input FILE, not both")
        if not input.is_file():
            raise InputError(f"--input {input}: file not found")
        text = input.read_text(encoding="utf-8")
    elif text == "-":
        text = sys.stdin.read()
    if text is None:
        raise InputError("nothing to moderate: give TEXT, '-' for stdin, or --input FILE")
    r = run(text, policy, toxicity=toxicity, toxicity_method=toxicity_method, model=model)
    if as_json:
        print_json(r.to_dict())
        return
    if r.findings:
        table = Table(title="findings")
        for col in ("category", "action", "text", "detail"):
            table.add_column(col)
        for f in r.findings:
            table.add_row(f.category, f.action, escape(f.text),
                          escape(f.detail + (f" {f.score:.2f}" if f.score is not None else "")))
        console.print(table)
    if r.toxicity is not None:
        console_err.print(f"[dim]toxicity {r.toxicity:.2f} ({r.toxicity_method})[/]",
                          highlight=False)
    if r.blocked:
        console.print("[bold red]blocked[/]")
    else:
        console.print(escape(r.output), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("moderate")(moderate)


__all__ = ["register"]
