"""The ``tunelab`` command: a thin typer layer over the Python API.

Every command parses its options, calls one API function and prints. Any
``TunelabError`` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunelab.errors import TunelabError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# transformers reads these when first imported: warnings and download bars are noise in a
# CLI whose models are local, and setting them here keeps commands that never touch
# transformers (report, --help) from importing it.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Fine-tune pre-trained models; compare strategies; ship the result.",
)
# Messages are never wrapped by rich (soft_wrap): a path or number split over two lines
# breaks copy-paste and grep. Tables still fit the width: 120 columns when piped into a
# log (CI, `make demo | tee`), where rich would otherwise assume 80.
LOG_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
console = Console(width=LOG_WIDTH, soft_wrap=True)
err_console = Console(stderr=True, width=LOG_WIDTH, soft_wrap=True)


def user_errors(command):
    """Turn a ``TunelabError`` into ``error: ...`` + exit 2, and Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        _terminate_as_interrupt()
        try:
            return command(*args, **kwargs)
        except TunelabError as err:
            # escape: a path like data[v2] would otherwise be read as markup and vanish
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; resume with --resume")
            raise typer.Exit(130) from None

    return wrapper


ConfigArg = Annotated[Path | None, typer.Argument(help="YAML config (defaults if omitted)")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE override, repeatable")]


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


def _terminate_as_interrupt() -> None:
    """SIGTERM (``kill``, a scheduler's time limit) unwinds like Ctrl-C, so a run
    directory is marked failed with its reason instead of staying "running"."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)


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


@app.command()
@user_errors
def evaluate(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    data: Annotated[str, typer.Option("--data", help="labelled source (file, folder, ...)")],
    text_column: Annotated[str | None, typer.Option(help="default: the run's")] = None,
    label_column: Annotated[str | None, typer.Option(help="default: the run's")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Evaluate a run's model on a labelled source."""
    from tunelab.evaluation import evaluate_run

    metrics = evaluate_run(run_dir, data, {"text": text_column, "label": label_column})
    if json_out:
        typer.echo(json.dumps(metrics, indent=2))
        return
    table = Table(title=escape(f"{run_dir} on {data} (n={metrics['n']})"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, int | float) and key != "n":
            table.add_row(key, f"{value:.4f}")
    console.print(table)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@user_errors
def predict(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    texts: Annotated[
        list[str] | None, typer.Argument(help="texts to classify (image runs: image file paths)")
    ] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help=".txt (a text or image path per line; record N is line N), CSV or JSONL "
            "(the run's text column; records carry their 1-based row)",
        ),
    ] = None,
) -> None:
    """Predict; one JSON line per input, in input order: where it came from ("line" or
    "row" for --input), the input, and the prediction (label, probabilities).

    An input that cannot be predicted (a blank line, a line that is not UTF-8, a missing
    or unreadable image) does not stop the others: its record carries "error" instead of
    a prediction, one line names it on stderr, and the exit code is 2.

    A task whose inputs have named parts takes them as options, e.g. a question-answering
    run: ``tunelab predict RUN --question Q --context C``.
    """
    from tunelab.inference import field_options, load, run_task
    from tunelab.io import finite_record

    task = run_task(run_dir)
    arguments, fields = field_options(task, [*(texts or []), *ctx.args])
    records = task.read_inputs(run_dir, arguments, input_file, fields=fields or None)
    if not records:
        raise TunelabError(f"predict: give {task.noun} as arguments or --input FILE")
    failed = 0
    for predicted in load(run_dir).predict_records(records):
        record = finite_record(predicted)  # a diverged model's NaN is not JSON
        sys.stdout.write(json.dumps(record, allow_nan=False) + "\n")
        if "error" in record:
            failed += 1
            message = escape(_failure(record, input_file))  # a path may hold [brackets]
            err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    if failed:
        raise typer.Exit(2)


def _failure(record: dict, input_file: Path | None) -> str:
    """One line for a failed input: the --input line or row it came from, and why."""
    place = next((f"{key} {record[key]}" for key in ("line", "row") if key in record), None)
    return f"--input {input_file} {place}: {record['error']}" if place else record["error"]


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
def models() -> None:
    """Known models (weights shipped by installed packages) with parameter counts."""
    from tunelab.models import list_models

    table = Table(
        title="known models (any local HF directory works too; images: any timm "
        "architecture with model.weights)"
    )
    for column in ("name", "task", "params", "description"):
        table.add_column(column)
    for spec in list_models():
        table.add_row(spec.name, spec.task, f"{spec.params / 1e6:.1f}M", spec.description)
    console.print(table)


@app.command()
@user_errors
def layers(
    model: Annotated[str, typer.Argument(help="known name or local model directory")],
) -> None:
    """The ordered layer groups of a model and the parameters in each."""
    from tunelab.summary import describe_layers

    rows = describe_layers(model)
    table = Table(title=escape(f"{model}: layer groups, bottom to top"))
    for column in ("#", "group", "params", "share"):
        table.add_column(column, justify="right" if column != "group" else "left")
    total = sum(r["params"] for r in rows)
    for i, row in enumerate(rows):
        table.add_row(
            str(i), row["name"], f"{row['params']:,}", f"{100 * row['params'] / total:.1f}%"
        )
    console.print(table)
    console.print(f"total {total:,} parameters (head shown for a 2-class task)")


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
def serve(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    max_body_mb: Annotated[
        float, typer.Option(help="largest request body in MB; larger is refused with 413")
    ] = 16.0,
    max_items: Annotated[
        int, typer.Option(help="most texts or images per request; more is 422")
    ] = 256,
    max_chars: Annotated[
        int, typer.Option(help="most characters per text; longer is 422 naming the text")
    ] = 100_000,
) -> None:
    """Serve a run's model over HTTP: POST /predict {"texts": [...]} or {"images": [base64]}."""
    import uvicorn

    from tunelab.serve import ServeLimits, create_app

    limits = ServeLimits.from_options(max_body_mb, max_items, max_chars)
    uvicorn.run(create_app(run_dir, device, limits), host=host, port=port, log_level="warning")


@app.command()
@user_errors
def export(
    run_dir: Annotated[Path, typer.Argument(help="a finished run directory")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="ONNX file (default: RUN/model/)")
    ] = None,
    tolerance: Annotated[
        float, typer.Option(help="largest probability difference ONNX Runtime may show")
    ] = 1e-4,
) -> None:
    """Export the model to ONNX (dynamic batch and length), verified with ONNX Runtime."""
    from tunelab.onnx_export import export_onnx

    result = export_onnx(run_dir, output, tolerance)
    console.print(
        f"onnx: [bold]{escape(str(result.path))}[/] ({result.size_mb:.1f} MB; inputs "
        f"{', '.join(result.inputs)} -> logits); ONNX Runtime vs PyTorch: max probability "
        f"difference {result.max_abs_diff:.1e}"
    )


@app.command()
@user_errors
def report(
    directory: Annotated[Path, typer.Argument(help="a run or compare directory")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="HTML file")] = None,
) -> None:
    """Write one self-contained report.html for a run or a comparison."""
    from tunelab.report import write_report

    console.print(f"report: [bold]{escape(str(write_report(directory, output)))}[/]")


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


if __name__ == "__main__":  # pragma: no cover
    app()
