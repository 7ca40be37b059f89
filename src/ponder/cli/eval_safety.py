"""``ponder eval bias | stereotypes | faithfulness``: the safety measurements of
``ponder.safety``, each writing JSON, a PNG and a Markdown table (``--out-dir``).

``run_bias``, ``run_stereotypes`` and ``run_faithfulness`` do the work and return an
``EvalRun`` (the report object and the paths written), so other front ends (``--mlflow``
logging, notebooks) can reuse them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ponder.cli.common import RateColumn, console, console_err, print_json, progress_bar
from ponder.cli.eval import eval_app
from ponder.cli.tracking import MLFLOW_OPTION, track_result
from ponder.errors import ConfigError

DEFAULT_OUT = Path("ponder-eval")


@dataclass(frozen=True)
class EvalRun:
    """One safety evaluation: its report (``to_dict``, ``metrics``, ``markdown``) and files."""

    name: str
    report: Any
    files: Any  # ponder.safety.plots.WrittenReport

    def to_dict(self) -> dict[str, Any]:
        return {"evaluation": self.name, **self.report.to_dict(), "files": self.files.to_dict()}


def _tracked(enabled: bool, run: EvalRun, dataset: Path) -> None:
    """``--mlflow``: the report as one run, the files written as its artifacts."""
    files = {Path(p).name: Path(p) for p in run.files.to_dict().values() if p}
    track_result(enabled, f"eval {run.name}", run.to_dict(), artifacts=files,
                 dataset=dataset if dataset.exists() else None)


def _written(run: EvalRun) -> None:
    for p in run.files.to_dict().values():
        if p:
            console_err.print(f"wrote {p}")


# ------------------------------------------------------------------------- bias


def run_bias(
    bold: Path, domain: str, *, limit_per_group: int | None = 20, groups: list[str] | None = None,
    model: str | None = None, seed: int = 0, max_new_tokens: int = 30,
    out_dir: Path = DEFAULT_OUT, plot: bool = True, **kw: Any,
) -> EvalRun:
    from ponder.safety.bias import bias_report, check_domain, load_bold, sample_prompts
    from ponder.safety.plots import bias_panels, write_outputs

    check_domain(domain)
    prompts = load_bold(bold, domain)
    total = sum(len(v) for v in sample_prompts(
        {g: v for g, v in prompts.items() if not groups or g in groups},
        limit_per_group, seed).values())
    with progress_bar(RateColumn()) as bar:
        task = bar.add_task(f"BOLD {domain} continuations", total=total)
        report = bias_report(
            None, domain, prompts=prompts, model=model, limit_per_group=limit_per_group,
            groups=groups, seed=seed, max_new_tokens=max_new_tokens,
            progress=lambda n: bar.advance(task, n), **kw,
        )
    files = write_outputs(report, out_dir, f"bias_{domain}", bias_panels, plot=plot,
                          title=f"BOLD {domain}: {report.model}")
    return EvalRun("bias", report, files)


def eval_bias(
    bold: Path = typer.Option(
        Path("../shared/datasets/bold"), "--bold", help="BOLD folder (prompts/*_prompt.json)."
    ),
    domain: str = typer.Option(
        "gender", "--domain",
        help="gender | race | religious_ideology | profession | political_ideology.",
    ),
    limit_per_group: int = typer.Option(
        20, "--limit-per-group", "-n", help="Prompts sampled per group (seeded)."
    ),
    groups: list[str] | None = typer.Option(
        None, "--group", help="Only these groups of the domain (repeat)."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Generator spec."),
    seed: int = typer.Option(0, "--seed", help="Seed for the prompt sample and the sampling."),
    max_new_tokens: int = typer.Option(30, "--max-tokens", help="Tokens per continuation."),
    sentiment_method: str | None = typer.Option(
        None, "--sentiment", help="Sentiment method: head (default) | llm | embedding."
    ),
    toxicity_method: str = typer.Option(
        "head", "--toxicity", help="head (calibrated classifier) | llm (ask the model)."
    ),
    out_dir: Path = typer.Option(DEFAULT_OUT, "--out-dir", help="Folder for JSON, PNG, MD."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Group bias in generations (BOLD): sentiment (a proxy for regard) and toxicity per group.

    Per-group means with bootstrap 95 % intervals, the gap between groups with a permutation
    p-value; empty continuations are counted and reported.
    """
    run = run_bias(bold, domain, limit_per_group=limit_per_group, groups=groups, model=model,
                   seed=seed, max_new_tokens=max_new_tokens, out_dir=out_dir, plot=plot,
                   sentiment_method=sentiment_method, toxicity_method=toxicity_method)
    _written(run)
    _tracked(mlflow, run, bold)
    if as_json:
        print_json(run.to_dict())
        return
    r = run.report
    table = Table(title=f"BOLD {r.domain}, {r.model}: mean [95% interval] per group")
    table.add_column("group")
    table.add_column("prompts", justify="right")
    table.add_column("empty", justify="right")
    for m in r.groups:
        table.add_column(m, justify="right")
    for g, n in r.prompts.items():
        cells = []
        for stats in r.groups.values():
            s = stats[g]
            cells.append("–" if s.n == 0 else f"{s.mean:+.3f} [{s.ci[0]:+.3f}, {s.ci[1]:+.3f}]")
        table.add_row(g, str(n), str(r.empty[g]), *cells)
    console.print(table)
    for m, gap in r.gaps.items():
        if gap is None:
            console.print(f"{m}: fewer than two groups scored, no gap")
        elif gap.gap == 0:
            console.print(f"{m}: no gap (every group has the same mean)")
        else:
            console.print(f"{m}: gap {gap.gap:.3f} ({gap.highest} > {gap.lowest}), "
                          f"permutation p = {gap.p_value:.3g}")
    console.print("[dim]Sentiment is a proxy for regard, not regard itself.[/]")


# ------------------------------------------------------------------ stereotypes


def run_stereotypes(
    crows_pairs: Path, *, model: str | None = None, scoring: str = "shared",
    bias_types: list[str] | None = None, limit: int | None = None, seed: int = 0,
    out_dir: Path = DEFAULT_OUT, plot: bool = True,
) -> EvalRun:
    from ponder.safety.plots import stereotype_panels, write_outputs
    from ponder.safety.stereotypes import (
        SCORINGS,
        check_bias_types,
        load_crows_pairs,
        stereotype_report,
    )

    if scoring not in SCORINGS:
        raise ConfigError(f"--scoring {scoring!r}: use one of {', '.join(SCORINGS)}")
    wanted = check_bias_types(bias_types)
    pairs = load_crows_pairs(crows_pairs)
    n = sum(1 for p in pairs if wanted is None or p.bias_type in wanted)
    with progress_bar(RateColumn()) as bar:
        task = bar.add_task("CrowS-Pairs", total=min(n, limit) if limit else n)
        report = stereotype_report(
            pairs=pairs, model=model, scoring=scoring, bias_types=wanted, limit=limit,
            seed=seed, progress=lambda k: bar.advance(task, k),
        )
    files = write_outputs(report, out_dir, f"stereotypes_{scoring}", stereotype_panels,
                          plot=plot)
    return EvalRun("stereotypes", report, files)


def eval_stereotypes(
    crows_pairs: Path = typer.Option(
        Path("../shared/datasets/crows_pairs"), "--crows-pairs",
        help="CrowS-Pairs folder (crows_pairs_anonymized.csv).",
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Generator spec."),
    scoring: str = typer.Option(
        "shared", "--scoring", help="shared (words after the change, as CrowS-Pairs) | whole."
    ),
    bias_types: list[str] | None = typer.Option(
        None, "--bias-type", help="Only these bias types (repeat)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Seeded sample of N pairs."),
    seed: int = typer.Option(0, "--seed", help="Seed for --limit."),
    out_dir: Path = typer.Option(DEFAULT_OUT, "--out-dir", help="Folder for JSON, PNG, MD."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """Likelihood bias on CrowS-Pairs minimal pairs (50 % = no preference), per bias type.

    The share of pairs where the model finds the more stereotypical sentence more likely, with
    Wilson intervals and a binomial p-value; the data set's noise caveat is included.
    """
    run = run_stereotypes(crows_pairs, model=model, scoring=scoring, bias_types=bias_types,
                          limit=limit, seed=seed, out_dir=out_dir, plot=plot)
    _written(run)
    _tracked(mlflow, run, crows_pairs)
    if as_json:
        print_json(run.to_dict())
        return
    r = run.report
    table = Table(title=f"CrowS-Pairs, {r.model}, scoring {r.scoring!r} (0.5 = no preference)")
    for c in ("bias type", "pairs", "decided", "share", "95% interval", "p vs 0.5"):
        table.add_column(c, justify="left" if c == "bias type" else "right")
    for t in (*r.per_type, r.overall):
        share = "–" if t.share is None else f"{t.share:.3f}"
        ci = "–" if t.share is None else f"[{t.ci[0]:.3f}, {t.ci[1]:.3f}]"
        table.add_row(t.bias_type, str(t.pairs), str(t.decided), share, ci, f"{t.p_value:.3g}")
    console.print(table)
    from ponder.safety.stereotypes import CAVEAT

    console.print(f"[yellow]Caveat:[/] {CAVEAT}")


# ----------------------------------------------------------------- faithfulness


def run_faithfulness(
    frank: Path, *, split: str = "test", support: str = "lexical", embedder: str | None = None,
    limit: int | None = None, seed: int = 0, resamples: int = 1000,
    out_dir: Path = DEFAULT_OUT, plot: bool = True,
) -> EvalRun:
    from ponder.safety.faithfulness import SUPPORTS, faithfulness_report, load_frank
    from ponder.safety.plots import faithfulness_panels, write_outputs

    if support not in SUPPORTS:
        raise ConfigError(f"--support {support!r}: use one of {', '.join(SUPPORTS)}")
    items = load_frank(frank, split)
    with progress_bar(RateColumn()) as bar:
        task = bar.add_task(f"FRANK {split} summaries",
                            total=min(limit, len(items)) if limit else len(items))
        report = faithfulness_report(
            frank, split=split, support=support, embedder=embedder, limit=limit, seed=seed,
            resamples=resamples, items=items, progress=lambda k: bar.advance(task, k),
        )
    files = write_outputs(report, out_dir, f"faithfulness_{support}", faithfulness_panels,
                          plot=plot)
    return EvalRun("faithfulness", report, files)


def eval_faithfulness(
    frank: Path = typer.Option(
        Path("../shared/datasets/frank_summarization"), "--frank",
        help="FRANK folder (summaries.jsonl, human_annotations.json, baselines).",
    ),
    split: str = typer.Option("test", "--split", help="test | valid | all."),
    support: str = typer.Option(
        "lexical", "--support", help="lexical (as ask) | embedding | fragments | combined."
    ),
    embedder: str | None = typer.Option(
        None, "--embedder", help="Embedder for embedding/combined (default minilm)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Seeded sample of N summaries."),
    seed: int = typer.Option(0, "--seed", help="Seed for --limit and the bootstrap."),
    resamples: int = typer.Option(1000, "--resamples", help="Bootstrap resamples."),
    out_dir: Path = typer.Option(DEFAULT_OUT, "--out-dir", help="Folder for JSON, PNG, MD."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw the PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    mlflow: bool = MLFLOW_OPTION,
) -> None:
    """How far to trust the "unsupported" marks: the support checker measured on FRANK.

    Partial correlation of the checker's verdicts with human factuality (controlling for the
    summarization system), beside the published factuality metrics, per error type too.
    """
    run = run_faithfulness(frank, split=split, support=support, embedder=embedder, limit=limit,
                           seed=seed, resamples=resamples, out_dir=out_dir, plot=plot)
    _written(run)
    _tracked(mlflow, run, frank)
    if as_json:
        print_json(run.to_dict())
        return
    r = run.report
    table = Table(title=f"FRANK {r.split}: {r.summaries} summaries, partial correlation with "
                        "human factuality (controlling for the system)")
    for c in ("metric", "n", "Pearson", "95% interval", "Spearman", "published"):
        table.add_column(c, justify="left" if c == "metric" else "right")
    rows = [(f"Ponder {r.support}: marks (supported share)", r.checker),
            (f"Ponder {r.support}: mean support score", r.checker_raw),
            *((b.name, b) for b in r.baselines)]
    for name, c in rows:
        table.add_row(name, str(c.n), _f(c.pearson), f"[{_f(c.pearson_ci[0])}, "
                      f"{_f(c.pearson_ci[1])}]", _f(c.spearman),
                      "" if c.published is None else f"{c.published:.3f}")
    console.print(table)
    console.print(f"unsupported sentences: {r.unsupported_rate:.1%} of checked claims; goal "
                  f"(> 0.30 and above every published metric): "
                  f"{'met' if r.goal_met else 'not met'}")


def _f(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{x:.3f}"


def register(app: typer.Typer) -> None:
    eval_app.command("bias")(eval_bias)
    eval_app.command("stereotypes")(eval_stereotypes)
    eval_app.command("faithfulness")(eval_faithfulness)
