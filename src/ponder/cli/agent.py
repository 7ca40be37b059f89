"""``ponder agent QUESTION --tools search:COLLECTION,calculator,sql:FILE.csv,pydoc``."""

from __future__ import annotations

import typer

from ponder.cli.common import console, print_json, settings


def agent(
    question: str = typer.Argument(..., help="The question."),
    tools: str = typer.Option(
        "calculator,pydoc", "--tools", "-t",
        help="Comma-separated: search:COLLECTION, calculator, sql:FILE.csv[+FILE.jsonl], pydoc.",
    ),
    max_steps: int = typer.Option(8, "--max-steps", help="Most tool calls before answering."),
    model: str | None = typer.Option(None, "--model", "-m",
                                     help="smollm2 (default), PATH.gguf, HF folder, openai:URL#m."),
    no_grammar: bool = typer.Option(False, "--no-grammar",
                                    help="Let the model write freely (no constrained decoding)."),
    timeout: float = typer.Option(10.0, "--tool-timeout", help="Seconds per tool call."),
    trace: bool = typer.Option(False, "--trace", help="Show every step."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and trace as JSON."),
) -> None:
    """Answer QUESTION with a ReAct agent using tools."""
    from ponder.agents import Agent

    home = settings().home
    a = Agent(tools, model=model or settings().model, max_steps=max_steps,
              grammar=not no_grammar, tool_timeout=timeout,
              home=str(home) if home else None)
    r = a.run(question)
    if as_json:
        print_json(r.to_dict())
        return
    if trace:
        console.print(r.rich_tree())
    else:
        console.print(r.answer, highlight=False, markup=False)
        console.print(f"[dim]{len(r.steps)} steps · {r.seconds:.1f}s · {r.status}[/]")


def register(app: typer.Typer) -> None:
    app.command("agent")(agent)


__all__ = ["register"]
