"""The commands on a finished run directory: ``evaluate``, ``predict``, ``serve``,
``export`` and ``report`` (which also takes a comparison directory).

They load what a run saved, never train, and print or serve what the model says.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunelab.cli.base import app, console, err_console, user_errors
from tunelab.errors import TunelabError


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
