"""The commands about backbones: ``models`` (the known ones) and ``layers`` (how one
splits into the layer groups every strategy plans over)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tunelab.cli.base import app, console, user_errors


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
