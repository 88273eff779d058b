"""The figures that set strategies side by side render to real PNGs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from tunelab.report import compare_figures
from tunelab.report.loader import load_compare

from .conftest import assert_nontrivial_png


def test_compare_figures_are_pngs(compare_dir: Path) -> None:
    compare = load_compare(compare_dir)
    histories = {name: [r.history for r in runs] for name, runs in compare.runs.items()}
    assert_nontrivial_png(compare_figures.compare_curves(histories))
    assert_nontrivial_png(compare_figures.tradeoff(compare.strategies, recommended="top_k"))
    assert plt.get_fignums() == []  # built without pyplot: nothing left open
