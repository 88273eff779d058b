"""The data figures (class balance, text lengths) render to real PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tunelab.report import data_figures
from tunelab.report.loader import load_run

from .conftest import assert_nontrivial_png, make_run_dir


def test_data_figures_are_pngs(run_dir: Path) -> None:
    data = load_run(run_dir).data
    assert_nontrivial_png(data_figures.class_balance(data))
    assert_nontrivial_png(data_figures.length_histogram(data))
    assert plt.get_fignums() == []  # built without pyplot: nothing left open


def test_small_label_sets_render(tmp_path: Path) -> None:
    run = load_run(make_run_dir(tmp_path / "r", labels=("a", "b")))
    assert_nontrivial_png(data_figures.class_balance(run.data))
