"""``ponder ask``: answer a question from a collection; the answer streams, then the sources,
numbered as cited, then what the checks found (unsupported sentences, removed citations,
instruction-like text taken out of the sources)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from ponder.cli.common import console, parse_weights, print_json, settings
from ponder.errors import ConfigError

_MODEL_HELP = "Model: smollm2 (default), PATH.gguf, a Hugging Face folder, openai:URL#model."


def _snippet(text: str, width: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def print_answer_details(answer: Any, out: Console, *, streamed: bool = True) -> None:
    """After the streamed answer: the checked answer if it differs, the sources, the checks."""
    if not streamed or any("differs" in n for n in answer.notes):
        if streamed:
            out.print("\n[dim]checked answer:[/]")
        body = Text()
        unsupported = set(answer.unsupported)
        for s in answer.sentences:
            style = "yellow" if s.text in unsupported else ""
            body.append(s.text + (" ⚠" if s.text in unsupported else "") + " ", style=style)
        out.print(body if answer.sentences else Text(answer.text))
    if answer.status not in ("answered", "no_answer"):
        return
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            how = " [dim](not cited by the model; supports the answer)[/]" if c.inferred else ""
            out.print(f"[bold cyan][{c.n}][/] {c.source} [dim]· {c.location}[/]{how}",
                      highlight=False)
            out.print(f"    [dim]{_snippet(c.quote or c.text)}[/]", highlight=False)
    elif answer.status == "answered":
        out.print("\n[yellow]No source supports this answer.[/]")
    if answer.unsupported:
        out.print("\n[yellow]⚠ Not supported by the sources:[/]")
        for s in answer.unsupported:
            out.print(f"  [yellow]- {_snippet(s)}[/]", highlight=False)
    if answer.removed_citations:
        nums = ", ".join(f"[{n}]" for n in answer.removed_citations)
        out.print(f"[dim]Removed citation(s) {nums}: they point at no source.[/]", highlight=False)
    if answer.injections:
        out.print(f"[magenta]Removed {len(answer.injections)} instruction-like passage(s) from "
                  "the sources before the model saw them:[/]")
        for sp in answer.injections:
            out.print(f"  [magenta]- {sp.source}: {_snippet(sp.text, 120)!r}[/]", highlight=False)
    for r in answer.output_removed:
        out.print(f"[magenta]Removed from the answer ({r['reason']}): {_snippet(r['text'], 80)!r}"
                  "[/]", highlight=False)
    if answer.dropped:
        out.print(f"[dim]{len(answer.dropped)} retrieved chunk(s) did not fit the context budget "
                  "(use --context-tokens, or --chain refine/map_reduce to read them all).[/]")


def _where(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise ConfigError(f"--where is not valid JSON ({e}): e.g. --where '{{\"topic\": \"x\"}}'"
                          ) from None


def ask(
    question: str = typer.Argument(..., help="The question."),
    collection: str = typer.Option(..., "--collection", "-c", help="Collection to answer from."),
    k: int | None = typer.Option(None, "-k", "--k", help="Chunks to retrieve (default 3)."),
    where: str | None = typer.Option(None, "--where", help="Metadata filter, JSON."),
    chain: str = typer.Option(
        "stuff", "--chain", help="stuff | map_reduce | refine | map_rerank."
    ),
    retrieval: str = typer.Option("hybrid", "--retrieval", help="dense | bm25 | hybrid."),
    fusion: str | None = typer.Option(
        None, "--fusion", help="Hybrid fusion: zscore (default) | minmax | rrf."
    ),
    weights: str | None = typer.Option(
        None, "--weights", help="Hybrid weights DENSE,BM25 (default 0.5,0.5)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
    max_new_tokens: int | None = typer.Option(
        None, "--max-tokens", help="Most tokens in the answer (default 64)."
    ),
    context_tokens: int | None = typer.Option(
        None, "--context-tokens", help="Token budget for sources per call (default 480)."
    ),
    min_score: float | None = typer.Option(
        None, "--min-score", help="Relevance floor on cosine similarity (default 0.2; -1 = off)."
    ),
    defense: str = typer.Option(
        "full", "--defense", help="full (default) | fence | none: prompt-injection defenses."
    ),
    support: str = typer.Option(
        "lexical", "--support", help="lexical (default) | embedding: how sentences are checked."
    ),
    answer_mode: str = typer.Option(
        "auto", "--answer",
        help="auto (default): generate, and quote the best source span when the generated "
        "answer is unsupported | generative | extractive (quote the span, no model).",
    ),
) -> None:
    """Answer QUESTION from a collection, citing the sources; every sentence is checked."""
    from ponder.rag.ask import ask as run_ask
    from ponder.store.collection import Collection

    options: dict[str, Any] = {
        "k": k, "where": _where(where), "chain": chain, "retrieval": retrieval,
        "fusion": fusion, "weights": parse_weights(weights),
        "max_new_tokens": max_new_tokens, "max_context_tokens": context_tokens,
        "min_score": min_score, "defense": defense, "support": support,
        "answer": answer_mode,
    }
    with Collection.open(collection, home=settings().home) as col:
        answer = run_ask(
            question, collection=col, model=model or settings().model,
            stream_to=None if as_json else console, **options,
        )
    if as_json:
        print_json(answer.to_dict())
        return
    console.print()
    print_answer_details(answer, console)
    if line := footer(answer):
        console.print(line, highlight=False)


def footer(answer: Any) -> str:
    """The dim last line: which method answered, and how long it took."""
    t = answer.timings
    if "time_to_first_token" not in t:
        return ""
    if answer.mode == "extractive" and answer.generated is None:
        return (f"[dim]extractive (no model) · answer after {t['time_to_first_token']:.2f}s[/]")
    how = f"{answer.model} · {answer.chain} · {answer.prompt_tokens} prompt tokens"
    if answer.mode == "extractive":
        how = f"extractive answer (auto fallback from {how})"
    return (f"[dim]{how} · first token {t['time_to_first_token']:.1f}s · "
            f"total {t['total']:.1f}s[/]")


def register(app: typer.Typer) -> None:
    app.command(name="ask")(ask)
