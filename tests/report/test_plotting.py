"""The shared figure machinery: PNG data URIs, their CSS width, colour keys, x axes."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tunelab.report import plotting, run_figures
from tunelab.report.loader import load_run
from tunelab.report.records import EvalRecord

from .conftest import assert_nontrivial_png


def _evaluation(epoch: float, step: int) -> EvalRecord:
    return EvalRecord(epoch, step, 1e-5, phase=0, trainable_params=None, val={"loss": 1.1})


def test_css_width_reads_png_header(run_dir: Path) -> None:
    uri = run_figures.layer_diagram(load_run(run_dir).layers, width=8.0)
    image = assert_nontrivial_png(uri)
    assert plotting.css_width(uri) == round(image.size[0] * 96 / plotting.DPI)
    assert 700 <= plotting.css_width(uri) <= 800  # 8 in at 96 CSS px per inch


def test_data_uri_is_an_opaque_rgb_png_at_report_dpi() -> None:
    with plotting.styled_figure(2.0, 1.0) as fig:
        fig.add_subplot().plot([0, 1], [1, 0])
        image = assert_nontrivial_png(plotting.to_data_uri(fig))
    assert image.mode == "RGB"  # white background: no alpha channel to store
    assert image.size == (2 * plotting.DPI, 1 * plotting.DPI)
    assert plt.get_fignums() == []


def test_x_axis_uses_steps_when_several_evals_per_epoch() -> None:
    history = [_evaluation(1 + (i - 1) // 3, step=20 * i) for i in range(1, 7)]
    xs, label = plotting.x_axis(history)
    assert label == "step" and xs == [20, 40, 60, 80, 100, 120]
    xs, label = plotting.x_axis(history[::3])  # one evaluation per epoch
    assert label == "epoch" and xs == [1, 2]


def test_strategy_colors_are_stable_and_scratch_is_grey() -> None:
    colors = plotting.strategy_colors(["top_k", "full", "scratch", "lora"])
    assert colors["scratch"] == plotting.SCRATCH_COLOR
    assert len(set(colors.values())) == 4
    assert plotting.strategy_colors(["top_k", "full"])["full"] == colors["full"]
