"""``ponder generate`` (stream text from the local model, any decoding strategy, explained on
request) and ``ponder tokens`` (how a text splits under each tokenizer)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ponder.cli.common import console, console_err, print_json, settings
from ponder.embed import load_embedder
from ponder.errors import ConfigError, PonderError
from ponder.llm import load_generator
from ponder.llm.config import GenerationConfig

_MODEL_HELP = (
    "Model: smollm2 (default, embedded), PATH.gguf, a Hugging Face folder, "
    "openai:http://host:port/v1#model, or fake/toy (no model)."
)


def _read_prompt(prompt: str) -> str:
    if prompt == "-":
        return sys.stdin.read()
    return prompt


def _load(model: str | None, api_key_env: str | None, n_ctx: int | None) -> Any:
    spec = model or settings().model
    kwargs: dict[str, Any] = {}
    if api_key_env:
        if not (spec or "").lower().startswith("openai:"):
            raise ConfigError("--api-key-env is only for openai:URL#model models")
        kwargs["api_key_env"] = api_key_env
    if n_ctx:
        kwargs["n_ctx"] = n_ctx
    return load_generator(spec, **kwargs)


def generate(
    prompt: str = typer.Argument(..., help="The prompt ('-' reads it from stdin)."),
    model: str | None = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    system: str | None = typer.Option(None, "--system", help="System message."),
    strategy: str | None = typer.Option(
        None, "--strategy", "-s", help="greedy (default) | beam | sample."
    ),
    num_beams: int | None = typer.Option(
        None, "--num-beams", help="Beams for beam search (default 4)."
    ),
    sample_beams: bool = typer.Option(
        False, "--sample-beams", help="Stochastic beam search: sample the beams."
    ),
    temperature: float | None = typer.Option(None, "--temperature", "-t", help="Sampling (0.8)."),
    top_k: int | None = typer.Option(None, "--top-k", help="Keep the k best tokens (0 = off)."),
    top_p: float | None = typer.Option(None, "--top-p", help="Nucleus mass in (0, 1] (1 = off)."),
    repetition_penalty: float | None = typer.Option(
        None, "--repetition-penalty", help="> 1 discourages repeats (1 = off)."
    ),
    length_penalty: float | None = typer.Option(
        None, "--length-penalty", help="Beam score = logprob / length^this (1.0)."
    ),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", "-n", help="Most tokens to generate (256)."
    ),
    stop: list[str] | None = typer.Option(None, "--stop", help="Stop string (repeatable)."),
    seed: int | None = typer.Option(None, "--seed", help="Random seed: same seed, same output."),
    raw: bool = typer.Option(False, "--raw", help="No chat template: the prompt as is."),
    truncate: str | None = typer.Option(
        None, "--truncate", help="left|right: cut a prompt that does not fit the window."
    ),
    explain: bool = typer.Option(
        False, "--explain", help="Show each step's candidates, the choice and the beams."
    ),
    explain_out: Path | None = typer.Option(
        None, "--explain-out", help="Write the decoding tree to FILE.html or FILE.png."
    ),
    top_n: int = typer.Option(5, "--top-n", help="Candidates per step in --explain."),
    api_key_env: str | None = typer.Option(
        None, "--api-key-env", help="Env var holding the API key (openai: models)."
    ),
    n_ctx: int | None = typer.Option(None, "--n-ctx", help="Context window for GGUF models."),
    json_schema: Path | None = typer.Option(
        None, "--json-schema", help="Constrain the output to this JSON Schema file."
    ),
    grammar: Path | None = typer.Option(
        None, "--grammar", help="Constrain the output to this GBNF grammar file."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON: text, tokens, tokens_per_second, finish_reason, ..."
    ),
) -> None:
    """Generate text from a prompt, streaming tokens as they are decoded."""
    schema = grammar_text = None
    if json_schema is not None:
        from ponder.llm.structured import check_schema, load_schema

        if not json_schema.is_file():
            raise ConfigError(f"--json-schema {json_schema}: file not found")
        schema = check_schema(load_schema(json_schema))
    if grammar is not None:
        from ponder.llm.structured import load_grammar

        if not grammar.is_file():
            raise ConfigError(f"--grammar {grammar}: file not found")
        grammar_text = load_grammar(grammar)
    cfg = GenerationConfig().replace(
        strategy=strategy, num_beams=num_beams, sample_beams=sample_beams or None,
        temperature=temperature, top_k=top_k, top_p=top_p,
        repetition_penalty=repetition_penalty, length_penalty=length_penalty,
        max_new_tokens=max_new_tokens, stop=stop or None, seed=seed, truncate=truncate,
        json_schema=schema, grammar=grammar_text,
    )
    cfg.validate()  # every option checked before the model loads
    if explain_out is not None and explain_out.suffix.lower() not in (".html", ".htm", ".png"):
        raise ConfigError(f"--explain-out {explain_out}: use a file ending in .html or .png")
    if top_n < 1:
        raise ConfigError(f"--top-n {top_n} must be >= 1")
    text = _read_prompt(prompt)
    gen = _load(model, api_key_env, n_ctx)
    want_trace = explain or explain_out is not None
    stream = gen.generate(text, cfg, system=system, raw=raw, explain=want_trace)
    if stream.trace is not None:
        stream.trace.top_n = top_n
    completion = stream.completion() if as_json else _stream_to_terminal(stream, cfg)
    trace = completion.trace
    parsed: Any = None
    if schema is not None:
        parsed = completion.json()  # GenerationError (exit 2) if cut before the JSON closed
        if not as_json:
            console_err.print("[dim]output is valid JSON and matches the schema[/]")
    if as_json:
        out = completion.to_dict()
        if schema is not None:
            out["json"] = parsed
        if trace is not None:
            out["explain"] = trace.to_dict()
        if explain_out is not None and trace is not None:
            out["explain_out"] = str(trace.save(explain_out))
        print_json(out)
        return
    if trace is not None and explain:
        if trace.note:
            console.print(f"[yellow]{trace.note}[/]")
        console.print(trace.rich_table())
    if trace is not None and explain_out is not None:
        path = trace.save(explain_out)
        console_err.print(f"[dim]decoding tree written to {path}[/]")


def _stream_to_terminal(stream: Any, cfg: GenerationConfig) -> Any:
    label = (
        f"searching with {cfg.num_beams} beams…" if cfg.strategy == "beam" else "reading prompt…"
    )
    it = iter(stream)
    with console_err.status(label, spinner="dots"):
        first = next(it, None)
    out = sys.stdout
    try:
        if first is not None:
            out.write(first.text)
            out.flush()
        for tok in it:
            out.write(tok.text)
            out.flush()
    except KeyboardInterrupt:
        stream.close()
        raise
    out.write("\n")
    out.flush()
    c = stream.completion()
    cached = f", {c.cached_prompt_tokens} cached" if c.cached_prompt_tokens else ""
    console_err.print(
        f"[dim]{c.completion_tokens} tokens · {c.tokens_per_second:.1f} tok/s · prompt "
        f"{c.prompt_tokens} tokens{cached} · first token {c.time_to_first_token:.2f}s · "
        f"finish: {c.finish_reason}[/]",
        highlight=False,
    )
    return c


# ---------------------------------------------------------------------- tokens

_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_COLORS = ("on #264653", "on #2a9d8f", "on #7b5e7b", "on #e76f51", "on #6d597a", "on #355070")


def _colored(pieces: list[str]) -> Text:
    """Tokens on alternating backgrounds in a colour terminal, separated by ``|`` otherwise."""
    t = Text()
    plain = console.color_system is None
    for i, p in enumerate(pieces):
        shown = p.replace("\n", "↵")
        if plain:
            t.append(("|" if i else "") + shown)
        else:
            t.append(shown, style=_COLORS[i % len(_COLORS)])
    return t


def _section(name: str, pieces: list[str], ids: list[int] | None, window: int | None,
             error: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "count": len(pieces),
        "tokens": pieces,
        "ids": ids,
        "context_window": window,
        "percent_of_window": round(100.0 * len(pieces) / window, 2) if window else None,
        "error": error,
    }


def tokens(
    text: str = typer.Argument(..., help="The text ('-' reads stdin)."),
    model: str | None = typer.Option(None, "--model", "-m", help=_MODEL_HELP),
    embedder: str | None = typer.Option(
        None, "--embedder", "-e", help="Embedder name (default: settings.embedder)."
    ),
    show: int = typer.Option(200, "--show", help="Show at most this many tokens per row."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show how TEXT splits into words, characters and each model's tokens, with ids and
    the share of each model's context window it uses."""
    text = _read_prompt(text)
    words = _WORD.findall(text)
    sections = [
        _section("words", words, None, None),
        _section("characters", list(text), None, None),
    ]
    try:
        gen = _load(model, None, None)
        toks = gen.tokenize(text)
        sections.append(
            _section(f"generator: {gen.model_id}", [t for _, t in toks], [i for i, _ in toks],
                     gen.context_window or None)
        )
    except PonderError as e:
        sections.append(_section(f"generator: {model or settings().model}", [], None, None,
                                 str(e)))
    name = embedder or settings().embedder
    try:
        emb = load_embedder(name)
        spans = emb.tokenize(text)
        try:
            ids: list[int] | None = list(emb.token_ids(text))
        except NotImplementedError:
            ids = None
        sections.append(
            _section(f"embedder: {emb.model_id or name}", [text[s:e] for s, e in spans], ids,
                     emb.max_tokens or None)
        )
    except (PonderError, ImportError) as e:
        sections.append(_section(f"embedder: {name}", [], None, None, str(e)))
    if as_json:
        print_json({"text": text, "characters": len(text),
                    "bytes": len(text.encode("utf-8")), "sections": sections})
        return
    summary = Table(title="How the text splits")
    for col in ("unit", "count", "context window", "% used"):
        summary.add_column(col, justify="left" if col == "unit" else "right")
    for s in sections:
        if s["error"]:
            summary.add_row(s["name"], "-", "-", "-", style="dim")
            continue
        win = s["context_window"]
        pct = s["percent_of_window"]
        style = "bold red" if pct is not None and pct > 100 else None
        summary.add_row(s["name"], str(s["count"]), str(win) if win else "",
                        f"{pct:.1f}%" if pct is not None else "", style=style)
    console.print(summary)
    for s in sections:
        if s["name"] == "characters":
            continue
        console.print(f"\n[bold]{s['name']}[/] ({s['count']})")
        if s["error"]:
            console.print(f"[yellow]unavailable:[/] {s['error']}")
            continue
        pieces = s["tokens"][:show]
        console.print(_colored(pieces))
        if s["ids"] is not None:
            console.print(f"[dim]ids: {s['ids'][:show]}[/]")
        if len(s["tokens"]) > show:
            console.print(f"[dim]… {len(s['tokens']) - show} more (--show N)[/]")


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(tokens)
