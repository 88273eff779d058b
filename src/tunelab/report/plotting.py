"""Shared machinery of the report's figures: style, colour keys, PNG ``data:`` URIs.

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas rather than
``pyplot``: no global figure registry, so nothing leaks across reports and the code runs
on a headless server with no display configured. Each figure is returned as a PNG
``data:`` URI so the HTML stands alone. The figure modules (:mod:`.run_figures`,
:mod:`.compare_figures`, :mod:`.data_figures`) take plain :mod:`.records` dataclasses and
return a string ready for ``<img src=...>``.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image  # Pillow is a dependency of matplotlib

from tunelab.report.records import EvalRecord

STATE_COLORS = {"frozen": "#b8bec8", "trained": "#2563eb", "lora": "#f08c00"}
SPLIT_COLORS = {"train": "#2563eb", "validation": "#f08c00", "test": "#0f9d58"}
STRATEGY_PALETTE = (
    "#2563eb",
    "#f08c00",
    "#0f9d58",
    "#c2255c",
    "#7048e8",
    "#0c8599",
    "#e8590c",
    "#5c940d",
)
SCRATCH_COLOR = "#6b7280"
DPI = 150

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelcolor": "#374151",
    "axes.edgecolor": "#9ca3af",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.8,
    "xtick.color": "#4b5563",
    "ytick.color": "#4b5563",
    "legend.frameon": False,
    "font.family": "DejaVu Sans",
}


@contextmanager
def styled_figure(width: float, height: float) -> Iterator[Figure]:
    """A styled, constrained-layout figure; the style never leaks into user plots."""
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def css_width(uri: str) -> int:
    """Width in CSS pixels at which a figure's fonts show at their point size.

    Read from the PNG header inside the data URI, so the template can show every figure
    at its natural size (capped by the page width) without the figure functions having
    to return anything but the URI.
    """
    header = base64.b64decode(uri.partition(",")[2][:32])
    pixels = int.from_bytes(header[16:20], "big")
    return round(pixels * 96 / DPI)


def to_data_uri(fig: Figure) -> str:
    """Encode ``fig`` as a PNG ``data:`` URI and release its memory.

    One ``canvas.draw()`` lays the figure out and renders it; ``savefig`` would first run
    a layout-only draw and then render again, which cost about a sixth of a report's
    time. The background is opaque white, so the pixels are saved as RGB: an alpha
    channel of all 255 only made the PNG bigger and slower to compress.
    """
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.set_facecolor("white")
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())[..., :3]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png", dpi=(DPI, DPI))
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def strategy_colors(names: Sequence[str]) -> dict[str, str]:
    """A fixed colour per strategy so every comparison plot uses the same key."""
    colors: dict[str, str] = {}
    palette = iter(STRATEGY_PALETTE * (1 + len(names) // len(STRATEGY_PALETTE)))
    for name in names:
        colors[name] = SCRATCH_COLOR if name == "scratch" else next(palette)
    return colors


def x_axis(history: Sequence[EvalRecord]) -> tuple[list[float], str]:
    """Epochs when there is one evaluation per epoch, else steps (``eval_every_steps``)."""
    epochs = [r.epoch for r in history]
    steps = [r.step for r in history]
    if len(set(epochs)) == len(epochs) or any(s is None for s in steps):
        return epochs, "epoch"
    return [float(s) for s in steps], "step"  # type: ignore[arg-type]


def plot_series(ax: Axes, xs: Sequence[float], ys: Sequence[float | None], **style: Any) -> None:
    """Plot only the points that exist (older histories lack some keys)."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if points:
        px, py = zip(*points, strict=True)
        ax.plot(px, py, marker="o", markersize=3.5, **style)
