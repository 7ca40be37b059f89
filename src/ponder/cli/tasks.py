"""``ponder summarize | sentiment | translate | classify | fewshot``: the task pipelines.

Input: a text argument, ``-`` for stdin, or ``--input FILE`` (.txt one input per line, .jsonl,
.csv with ``--text-field``) for a batch with a progress bar. Output: text; ``--json`` prints
JSON (one object per line in batch mode); ``--output FILE`` writes JSONL, one object per input.
In batch mode a bad row is reported on stderr and skipped, the rest processed, and a summary
closes the run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import typer

from ponder.cli.common import console, console_err, print_json, progress_bar, settings
from ponder.errors import ConfigError, InputError, PonderError

_MODEL_HELP = (
    "Model: smollm2 (default, embedded 135M), PATH.gguf, a Hugging Face folder, or "
    "openai:http://host:port/v1#model."
)
_TEXT = typer.Argument(None, help="The text ('-' reads stdin). Or use --input FILE.")
_INPUT = typer.Option(
    None, "--input", "-i", help="Batch input: .txt (one per line), .jsonl or .csv."
)
_FIELD = typer.Option(None, "--text-field", help="Column/key holding the text (default 'text').")
_OUTPUT = typer.Option(None, "--output", "-o", help="Write results as JSONL to this file.")
_JSON = typer.Option(False, "--json", help="Print JSON instead of text.")
_MODEL = typer.Option(None, "--model", "-m", help=_MODEL_HELP)
_EMBEDDER = typer.Option(None, "--embedder", help="Embedder for embedding-based methods.")
_STRATEGY = typer.Option(None, "--strategy", "-s", help="greedy (default) | beam | sample.")
_BEAMS = typer.Option(None, "--num-beams", help="Beams for beam search.")
_TEMP = typer.Option(None, "--temperature", "-t", help="Sampling temperature.")
_TOPK = typer.Option(None, "--top-k", help="Keep the k best tokens (0 = off).")
_TOPP = typer.Option(None, "--top-p", help="Nucleus mass in (0, 1].")
_REP = typer.Option(None, "--repetition-penalty", help="> 1 discourages repeats.")
_MAXNEW = typer.Option(None, "--max-new-tokens", "-n", help="Most tokens to generate.")
_STOP = typer.Option(None, "--stop", help="Stop string (repeatable).")
_SEED = typer.Option(None, "--seed", help="Random seed for sampling.")
_LABEL_METHOD = typer.Option(
    "embedding", "--method",
    help="embedding (similarity; default, measured best) | llm (label log-likelihood).",
)
_CALIBRATE = typer.Option(
    False, "--calibrate", help="Divide out the model's label bias (contextual calibration)."
)
_PRIOR_FROM = typer.Option(
    None, "--prior-from",
    help="Divide out the label distribution the model predicts on average over these "
    "unlabeled texts (.txt one per line, .jsonl, .csv; e.g. the training inputs): batch "
    "calibration. For --method llm or embedding.",
)


def _decoding(**values: Any) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if v is not None}
    if out.get("stop") == []:
        out.pop("stop")
    return out


def _make(task: str, model: str | None, embedder: str | None, **options: Any) -> Any:
    from ponder.tasks import pipeline

    s = settings()
    if options.get("method") == "head":  # the head brings the embedder it was trained with
        return pipeline(task, model=model or s.model, embedder=embedder, **options)
    return pipeline(task, model=model or s.model, embedder=embedder or s.embedder, **options)


# ------------------------------------------------------------------ running


def _with_prior(pipe: Any, path: Path | None, text_field: str | None) -> Any:
    """``pipe`` calibrated on the texts of ``path`` (``--prior-from``), said on stderr."""
    if path is None:
        return pipe
    from ponder.tasks.inputs import read_inputs

    if not path.is_file():
        raise ConfigError(f"--prior-from {path}: no such file; give a .txt (one text per line), "
                          ".jsonl or .csv file of unlabeled texts like those to classify")
    rows, _ = read_inputs(path, text_field if path.suffix.lower() in (".jsonl", ".csv")
                          else None)
    if not rows:
        raise ConfigError(f"--prior-from {path}: no texts in it to average over")
    with console_err.status(f"fitting the label prior on {len(rows)} texts"):
        out = pipe.fit_prior([r.text for r in rows])
    prior = ", ".join(f"{lab} {q:.3f}" for lab, q in zip(out.labels, out.options.prior,
                                                         strict=True))
    console_err.print(f"[dim]label prior from {len(rows)} texts of {path.name}: {prior}[/]",
                      highlight=False)
    return out


def _single_text(text: str | None) -> str:
    if text == "-":
        return sys.stdin.read()
    return text or ""


def _run(
    pipe: Any,
    text: str | None,
    input_file: Path | None,
    text_field: str | None,
    output: Path | None,
    as_json: bool,
    show: Callable[[dict[str, Any]], str],
    *,
    whole_txt: bool = False,
    echo_text: bool = True,
    method_note: bool = False,
) -> None:
    """Run ``pipe`` on one text or a batch file and print/write the results; with
    ``method_note`` the method that ran is said on stderr (stdout keeps the bare text)."""
    if text is not None and input_file is not None:
        raise ConfigError("give either a text argument or --input FILE, not both")
    if text is None and input_file is None:
        raise ConfigError("nothing to process: give a text, '-' to read stdin, or --input FILE")
    if text_field and input_file is None:
        raise ConfigError("--text-field applies to --input FILE (.jsonl or .csv)")
    if input_file is None:
        result = pipe(_single_text(text)).to_dict()
        _report_notes([result])
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
            console_err.print(f"[dim]wrote 1 result to {output}[/]")
        elif as_json:
            print_json(result)
        else:
            sys.stdout.write(show(result) + "\n")
        if method_note and not as_json and "method" in result:
            console_err.print(f"[dim]{_method(result)}[/]", highlight=False)
        return
    _run_batch(pipe, input_file, text_field, output, as_json, show, whole_txt, echo_text)


def _run_batch(
    pipe: Any,
    input_file: Path,
    text_field: str | None,
    output: Path | None,
    as_json: bool,
    show: Callable[[dict[str, Any]], str],
    whole_txt: bool,
    echo_text: bool,
) -> None:
    from ponder.tasks.inputs import read_inputs

    rows, skipped = read_inputs(input_file, text_field, whole=whole_txt)
    for ref, reason in skipped:
        console_err.print(f"[yellow]skipped[/] {ref}: {reason}", highlight=False)
    failed: list[tuple[str, str]] = []
    done = warned = 0
    notes: list[dict[str, Any]] = []
    methods: dict[str, int] = {}
    sink: TextIO | None = None
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        sink = output.open("w", encoding="utf-8")
    try:
        with progress_bar(transient=True) as bar:
            job = bar.add_task(pipe.task, total=len(rows))
            for i, outcome in pipe.iter_batch([r.text for r in rows]):
                row = rows[i]
                bar.advance(job)
                if isinstance(outcome, PonderError):
                    failed.append((row.ref, str(outcome)))
                    bar.console.print(f"[yellow]skipped[/] {row.ref}: {outcome}", highlight=False)
                    continue
                done += 1
                outcome = outcome.to_dict()
                if outcome.get("method"):
                    methods[_method(outcome)] = methods.get(_method(outcome), 0) + 1
                warned += bool(outcome.get("warning"))
                if len(notes) < 1 and outcome.get("note"):
                    notes.append(outcome)
                record = {"row": row.row, **row.fields}
                if echo_text:
                    record["text"] = row.text
                record.update(outcome)
                if outcome.get("warning") and sink is None and not as_json:
                    bar.console.print(
                        f"[yellow]warning[/] {row.ref}: {outcome['warning']}", highlight=False
                    )
                _emit(record, sink, as_json, show, bar.console)
    finally:
        if sink is not None:
            sink.close()
    _report_notes(notes)
    bad = len(skipped) + len(failed)
    where = f" to {output}" if output is not None else ""
    flagged = f" ({warned} with a warning)" if warned else ""
    ran = "; ".join(methods)
    console_err.print(
        f"[bold]{pipe.task}[/]: {done} processed{where}{flagged}, {bad} skipped "
        f"({len(skipped)} bad rows, {len(failed)} failed)" + (f"; {ran}" if ran else ""),
        highlight=False,
    )
    if done == 0 and bad:
        raise typer.Exit(1)


def _emit(
    record: dict[str, Any], sink: TextIO | None, as_json: bool,
    show: Callable[[dict[str, Any]], str], out: Any,
) -> None:
    line = json.dumps(record, ensure_ascii=False, default=str)
    if sink is not None:
        sink.write(line + "\n")
        return
    if as_json:
        sys.stdout.write(line + "\n")
    else:
        sys.stdout.write(f"{record['row']}\t{show(record)}\n")
    sys.stdout.flush()


def _report_notes(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r.get("warning"):
            console_err.print(f"[yellow]warning:[/] {r['warning']}", highlight=False)
        if r.get("note"):
            console_err.print(f"[dim]note: {r['note']}[/]", highlight=False)


def _method(r: dict[str, Any]) -> str:
    detail = r.get("method_detail")
    return f"method: {r.get('method', '?')}" + (f" ({detail})" if detail else "")


def _show_label(r: dict[str, Any]) -> str:
    others = ", ".join(f"{k} {v:.3f}" for k, v in r["scores"].items())
    chosen = r.get("labels")
    head = ",".join(chosen) if chosen is not None else r["label"]
    return f"{head or '(none)'}\t{r['score']:.3f}\t({others})\t{_method(r)}"


def _show_summary(r: dict[str, Any]) -> str:
    if "row" in r:  # batch: one line per input
        return f"{r['summary']}\t{_method(r)}"
    return str(r["summary"])


def _show_translation(r: dict[str, Any]) -> str:
    return str(r["translation"])


# ------------------------------------------------------------------ commands


def summarize(
    text: str | None = _TEXT,
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    method: str = typer.Option(
        "auto", "--method",
        help="auto (the method measured best on FRANK: extractive, unless the model is "
        "recorded above lead-3) | extractive (sentences) | abstractive (LLM) | lead.",
    ),
    min_length: int | None = typer.Option(None, "--min-length", help="Fewest words."),
    max_length: int | None = typer.Option(None, "--max-length", help="Most words."),
    sentences: int = typer.Option(3, "--sentences", help="Sentences to aim for."),
    lines: bool = typer.Option(
        False, "--lines", help="A .txt --input holds one text per line (default: one document)."
    ),
    chunk_tokens: int | None = typer.Option(
        None, "--chunk-tokens", help="Map-reduce part size in tokens (default: fit the window)."
    ),
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
    strategy: str | None = _STRATEGY,
    num_beams: int | None = _BEAMS,
    temperature: float | None = _TEMP,
    top_k: int | None = _TOPK,
    top_p: float | None = _TOPP,
    repetition_penalty: float | None = _REP,
    max_new_tokens: int | None = _MAXNEW,
    stop: list[str] | None = _STOP,
    seed: int | None = _SEED,
) -> None:
    """Summarize a text: by default the method that measured best (extractive sentences);
    abstractive (the LLM, map-reduce for long texts) or lead on request."""
    pipe = _make(
        "summarization", model, embedder, method=method, min_length=min_length,
        max_length=max_length, num_sentences=sentences, chunk_tokens=chunk_tokens,
        **_decoding(strategy=strategy, num_beams=num_beams, temperature=temperature, top_k=top_k,
                    top_p=top_p, repetition_penalty=repetition_penalty,
                    max_new_tokens=max_new_tokens, stop=stop, seed=seed),
    )
    _run(pipe, text, input_file, text_field, output, as_json, _show_summary,
         whole_txt=not lines, echo_text=False, method_note=True)


def sentiment(
    text: str | None = _TEXT,
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    labels: str | None = typer.Option(
        None, "--labels",
        help="Comma-separated labels (llm/embedding; the head's are negative,neutral,positive).",
    ),
    method: str = typer.Option(
        "head", "--method",
        help="head (classifier on SmolLM2-135M hidden states, trained on TweetEval, "
        "calibrated; default) | llm "
        "(label log-likelihood) | embedding (similarity).",
    ),
    calibrate: bool = _CALIBRATE,
    prior_from: Path | None = _PRIOR_FROM,
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
) -> None:
    """Sentiment label and calibrated confidence; the output names the method that ran."""
    pipe = _make("sentiment-analysis", model, embedder, labels=labels, method=method,
                 calibrate=calibrate)
    if prior_from is not None and method == "head":
        raise ConfigError("--prior-from applies to --method llm or embedding: the head is "
                          "calibrated already")
    pipe = _with_prior(pipe, prior_from, text_field)
    _run(pipe, text, input_file, text_field, output, as_json, _show_label)


def classify(
    text: str | None = _TEXT,
    labels: str = typer.Option(..., "--labels", help="Comma-separated labels (2 or more)."),
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    multi_label: bool = typer.Option(
        False, "--multi-label", help="Score each label on its own (yes/no); several may apply."
    ),
    threshold: float = typer.Option(0.5, "--threshold", help="Multi-label: keep labels >= this."),
    method: str = _LABEL_METHOD,
    hypothesis: str | None = typer.Option(
        None, "--hypothesis", help="Hypothesis template (default 'This text is about {label}.')."
    ),
    calibrate: bool = _CALIBRATE,
    prior_from: Path | None = _PRIOR_FROM,
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
) -> None:
    """Zero-shot classification into any labels, with a score per label."""
    pipe = _make("zero-shot-classification", model, embedder, labels=labels,
                 multi_label=multi_label, threshold=threshold, method=method,
                 hypothesis_template=hypothesis, calibrate=calibrate)
    pipe = _with_prior(pipe, prior_from, text_field)
    _run(pipe, text, input_file, text_field, output, as_json, _show_label)


def translate(
    text: str | None = _TEXT,
    to: str = typer.Option(..., "--to", help="Target language: name or code (de, German)."),
    source: str | None = typer.Option(None, "--from", help="Source language (default: guess)."),
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    model: str | None = _MODEL,
    strategy: str | None = _STRATEGY,
    num_beams: int | None = _BEAMS,
    temperature: float | None = _TEMP,
    top_k: int | None = _TOPK,
    top_p: float | None = _TOPP,
    repetition_penalty: float | None = _REP,
    max_new_tokens: int | None = _MAXNEW,
    stop: list[str] | None = _STOP,
    seed: int | None = _SEED,
) -> None:
    """Translate by prompt. The default 135M model is too small to translate well: use --model."""
    pipe = _make(
        "translation", model, None, target=to, source=source,
        **_decoding(strategy=strategy, num_beams=num_beams, temperature=temperature, top_k=top_k,
                    top_p=top_p, repetition_penalty=repetition_penalty,
                    max_new_tokens=max_new_tokens, stop=stop, seed=seed),
    )
    _run(pipe, text, input_file, text_field, output, as_json, _show_translation)


def fewshot(
    text: str | None = _TEXT,
    examples: Path = typer.Option(
        ..., "--examples", "-e", help="Examples: .jsonl/.json/.csv with input and output fields."
    ),
    input_file: Path | None = _INPUT,
    text_field: str | None = _FIELD,
    output: Path | None = _OUTPUT,
    as_json: bool = _JSON,
    instruction: str = typer.Option("", "--instruction", help="Instruction before the examples."),
    select: int | None = typer.Option(
        None, "--select", help="Use the K examples nearest to each input (by embedding)."
    ),
    separator: str = typer.Option("###", "--separator", help="Line between examples (stop)."),
    input_prefix: str = typer.Option("Input: ", "--input-prefix"),
    output_prefix: str = typer.Option("Output: ", "--output-prefix"),
    input_key: str = typer.Option("input", "--input-key", help="Examples' input field."),
    output_key: str = typer.Option("output", "--output-key", help="Examples' output field."),
    chat: bool = typer.Option(False, "--chat", help="Send the prompt through the chat template."),
    show_prompt: bool = typer.Option(False, "--show-prompt", help="Print the prompt and stop."),
    model: str | None = _MODEL,
    embedder: str | None = _EMBEDDER,
    strategy: str | None = _STRATEGY,
    num_beams: int | None = _BEAMS,
    temperature: float | None = _TEMP,
    top_k: int | None = _TOPK,
    top_p: float | None = _TOPP,
    repetition_penalty: float | None = _REP,
    max_new_tokens: int | None = _MAXNEW,
    stop: list[str] | None = _STOP,
    seed: int | None = _SEED,
) -> None:
    """Few-shot prompting: instruction, examples, query; --select K picks the nearest examples."""
    pipe = _make(
        "few-shot", model, embedder, examples=examples, instruction=instruction, select=select,
        separator=separator, input_prefix=input_prefix, output_prefix=output_prefix,
        input_field=input_key, output_field=output_key, chat=chat,
        **_decoding(strategy=strategy, num_beams=num_beams, temperature=temperature, top_k=top_k,
                    top_p=top_p, repetition_penalty=repetition_penalty,
                    max_new_tokens=max_new_tokens, stop=stop, seed=seed),
    )
    if show_prompt:
        query = _single_text(text)
        if not query.strip():
            raise InputError("--show-prompt needs the query text")
        console.print(pipe.build_prompt(query), highlight=False, markup=False)
        return
    _run(pipe, text, input_file, text_field, output, as_json, lambda r: str(r["output"]))


def register(app: typer.Typer) -> None:
    app.command("summarize")(summarize)
    app.command("sentiment")(sentiment)
    app.command("classify")(classify)
    app.command("translate")(translate)
    app.command("fewshot")(fewshot)
