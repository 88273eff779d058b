"""The commands that train: ``run``, ``pretrain``, ``compare`` and ``search``.

Each loads the config (file + ``--set``), calls its API function and prints what the
user needs next: the metrics, where the run directory is, the report to open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunelab.cli.base import ConfigArg, SetOpt, app, console, err_console, user_errors


@app.command()
@user_errors
def run(
    config: ConfigArg = None,
    set_: SetOpt = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="run directory")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace a run in --output")] = False,
    init_from: Annotated[
        Path | None,
        typer.Option("--init-from", help="continual update: start from this finished run's model"),
    ] = None,
) -> None:
    """Fine-tune a model with one strategy and write a run directory."""
    from tunelab.config import load_config
    from tunelab.distributed import is_main_process
    from tunelab.run import fine_tune

    overrides = [*(set_ or []), *([f"model.init_from={init_from}"] if init_from else [])]
    cfg = load_config(config, overrides)
    result = fine_tune(cfg, output, resume=resume, overwrite=overwrite, console=console)
    if not is_main_process():  # torchrun / accelerate launch: rank 0 reports
        return
    print_metrics(result.metrics)
    if "continual" in result.metrics:
        old = result.metrics["continual"]
        console.print(
            f"old test set accuracy: {old['old_test_accuracy_before']:.3f} before, "
            f"{old['old_test_accuracy_after']:.3f} after the update"
        )
        for flag in old["flags"]:
            console.print(f"[yellow]flag[/] {flag['kind']}: {escape(flag['message'])}")
    console.print(f"run directory: [bold]{escape(str(result.run_dir))}[/]")


def print_metrics(metrics: dict) -> None:
    """The final metrics table of a run: every metric its objective reports, and the
    untouched base model's where the task scores it."""
    table = Table(title="results")
    baseline = metrics.get("baseline")
    for column in ("metric", "validation", "test", *(["base (test)"] if baseline else [])):
        table.add_column(column, justify="left" if column == "metric" else "right")
    objective = metrics["objective"]
    for spec in [*objective["metrics"], *objective.get("final_metrics", [])]:
        key = spec["name"]
        row = [
            spec["label"],
            _number(metrics["validation"].get(key)),
            _number(metrics["test"].get(key)),
        ]
        table.add_row(*row, *([_number(baseline["test"].get(key))] if baseline else []))
    table.add_row(
        "latency p50 / p95 ms",
        "",
        f"{metrics['test']['latency_ms_p50']:.1f} / {metrics['test']['latency_ms_p95']:.1f}",
    )
    console.print(table)
    forgetting = metrics.get("forgetting")
    if forgetting:
        before, after = (forgetting[f"reference_perplexity_{k}"] for k in ("before", "after"))
        console.print(
            f"reference-text perplexity {before:.2f} before, {after:.2f} after "
            f"({100 * forgetting['rise']:+.1f}%)"
        )
    for flag in metrics.get("flags", []):
        console.print(f"[yellow]flag[/] {flag['kind']}: {escape(flag['message'])}")
    console.print(
        f"trained {metrics['trainable_params']:,} of {metrics['total_params']:,} parameters; "
        f"{metrics['epochs_run']} epochs in {metrics['train_seconds']:.1f}s "
        f"({metrics['seconds_per_epoch']:.1f}s/epoch); best epoch {metrics['best_epoch']}"
    )


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


@app.command()
@user_errors
def pretrain(
    config: ConfigArg = None,
    set_: SetOpt = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="backbone directory")] = Path(
        "runs/pretrained"
    ),
    overwrite: Annotated[bool, typer.Option(help="replace a non-empty --output")] = False,
) -> None:
    """Build a backbone by self-supervised training (tasks whose pre-trained weights ship
    nowhere) and save it as a model directory; then set ``model.name`` to it."""
    from tunelab.config import load_config
    from tunelab.pretraining import pretrain as run_pretraining

    cfg = load_config(config, set_ or [])
    target = run_pretraining(cfg, output, overwrite=overwrite, console=console)
    where = escape(str(target))
    console.print(f"backbone: [bold]{where}[/]; use it with --set model.name={where}")


@app.command()
@user_errors
def compare(
    config: ConfigArg = None,
    set_: SetOpt = None,
    strategies: Annotated[
        str | None, typer.Option(help="comma-separated; default: all six strategies and scratch")
    ] = None,
    seeds: Annotated[int, typer.Option(help="seeds per strategy (mean ± std)")] = 1,
    output: Annotated[Path, typer.Option("--output", "-o", help="comparison directory")] = Path(
        "runs/compare"
    ),
    no_report: Annotated[bool, typer.Option("--no-report", help="skip report.html")] = False,
    train_sizes: Annotated[
        str | None,
        typer.Option(help="learning curve: examples per class, e.g. 8,16,32,64,all"),
    ] = None,
) -> None:
    """Every strategy vs training from scratch on one split; summary + HTML report."""
    from tunelab.comparison import compare as run_compare
    from tunelab.config import load_config

    cfg = load_config(config, set_ or [])
    names = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
    if train_sizes:  # learning_curve.py: one compare per size, then the full data
        from tunelab.learning_curve import compare_train_sizes, parse_train_sizes

        sizes = parse_train_sizes(train_sizes)
        result = compare_train_sizes(cfg, names, sizes, seeds, output, console, not no_report)
    else:
        result = run_compare(cfg, names, seeds, output, console=console, report=not no_report)
    console.print(f"comparison directory: [bold]{escape(str(result.output_dir))}[/]")
    if result.report:
        console.print(f"open the report: [bold]{escape(str(result.report))}[/]")


@app.command()
@user_errors
def search(
    config: ConfigArg = None,
    set_: SetOpt = None,
    trials: Annotated[
        int | None, typer.Option(help="the study's trial budget (default: search.trials)")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="start no trial after SECONDS")] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna RDB URL shared by several processes (default: SQLite in --output)"
        ),
    ] = None,
    study: Annotated[str | None, typer.Option(help="study name (default: --output's name)")] = None,
    metric: Annotated[str | None, typer.Option(help="validation metric, e.g. f1_macro")] = None,
    direction: Annotated[str | None, typer.Option(help="maximize or minimize")] = None,
    isolation: Annotated[str | None, typer.Option(help="subprocess or inprocess")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="search directory")] = Path(
        "runs/search"
    ),
    no_report: Annotated[bool, typer.Option("--no-report", help="skip search_report.html")] = False,
) -> None:
    """Hyper-parameter search (Optuna TPE + pruning); re-run to resume or add processes."""
    from tunelab.config import load_config
    from tunelab.hpsearch import search as run_search

    cfg = load_config(config, set_ or [])
    try:
        result = run_search(
            cfg,
            trials,
            timeout,
            storage,
            study,
            metric,
            direction,
            output,
            isolation,
            console=console,
            report=not no_report,
        )
    except KeyboardInterrupt:
        err_console.print("interrupted; run the same command again to resume the study")
        raise typer.Exit(130) from None
    if result.best_config is None:
        err_console.print("no trial completed; see trials.csv and trials/*.log")
        raise typer.Exit(1)
    best = escape(str(result.best_config))
    console.print(f"best config: [bold]{best}[/]  (tunelab run {best})")
    console.print(f"trials: [bold]{escape(str(result.output_dir / 'trials.csv'))}[/]")
    if result.report:
        console.print(f"report: [bold]{escape(str(result.report))}[/]")
