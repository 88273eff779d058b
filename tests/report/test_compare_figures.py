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
    objective = compare.objective
    assert_nontrivial_png(compare_figures.compare_curves(histories, objective))
    tradeoff = compare_figures.tradeoff(compare.strategies, objective, recommended="top_k")
    assert_nontrivial_png(tradeoff)
    assert plt.get_fignums() == []  # built without pyplot: nothing left open
