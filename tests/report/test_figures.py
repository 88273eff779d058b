"""Every figure renders to a real PNG, without leaking pyplot state."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tunelab.report import figures
from tunelab.report.loader import EvalRecord, LayerGroup, load_compare, load_run

from .conftest import assert_nontrivial_png, make_run_dir


@pytest.fixture
def run(run_dir: Path):
    return load_run(run_dir)


def test_run_figures_are_pngs(run) -> None:
    test = run.metrics.test
    uris = [
        figures.layer_diagram(run.layers),
        figures.learning_curves(run.history),
        figures.confusion_matrix(test.labels, test.confusion_matrix),
        figures.class_balance(run.data),
        figures.length_histogram(run.data),
    ]
    for uri in uris:
        assert_nontrivial_png(uri)
    assert plt.get_fignums() == []  # built without pyplot: nothing left open


def test_compare_figures_are_pngs(compare_dir: Path) -> None:
    compare = load_compare(compare_dir)
    histories = {name: [r.history for r in runs] for name, runs in compare.runs.items()}
    assert_nontrivial_png(figures.compare_curves(histories))
    assert_nontrivial_png(figures.tradeoff(compare.strategies, recommended="top_k"))


def test_css_width_reads_png_header(run) -> None:
    uri = figures.layer_diagram(run.layers, width=8.0)
    image = assert_nontrivial_png(uri)
    assert figures.css_width(uri) == round(image.size[0] * 96 / figures.DPI)
    assert 700 <= figures.css_width(uri) <= 800  # 8 in at 96 CSS px per inch


def test_gradual_unfreeze_notes_use_one_based_epochs() -> None:
    frozen = LayerGroup("layer.0", 1000, "frozen", 1.0, 0.0, unfreeze_epoch=6)
    trained = LayerGroup("layer.5", 1000, "trained", 0.41, 2.05e-5, unfreeze_epoch=2)
    head = LayerGroup("head", 10, "trained", 1.0, 1e-3, unfreeze_epoch=0)
    assert figures._layer_detail(frozen) == "unfreezes at epoch 7"
    assert figures._layer_detail(trained) == "lr 2.1e-5 (×0.41) · unfrozen at epoch 3"
    assert figures._layer_detail(head) == "lr 0.001 (×1) · trains from start"


def _record(i: int, phase: int = 0) -> EvalRecord:
    """The i-th of three evaluations per epoch (``eval_every_steps``)."""
    return EvalRecord(
        epoch=1 + (i - 1) // 3,
        step=20 * i,
        train_loss=1.0 / i,
        val_loss=1.1 / i,
        val_accuracy=0.5,
        val_f1_macro=0.4 + i / 100,
        lr=1e-5,
        phase=phase,
        trainable_params=None,
    )


def test_learning_curves_use_steps_when_several_evals_per_epoch() -> None:
    history = [_record(i, phase=0 if i < 4 else 1) for i in range(1, 7)]
    xs, label = figures._x_axis(history)
    assert label == "step" and xs == [20, 40, 60, 80, 100, 120]
    assert_nontrivial_png(figures.learning_curves(history))


def test_learning_curves_accept_one_evaluation() -> None:
    assert_nontrivial_png(figures.learning_curves([_record(1)]))


def test_strategy_colors_are_stable_and_scratch_is_grey() -> None:
    colors = figures.strategy_colors(["top_k", "full", "scratch", "lora"])
    assert colors["scratch"] == figures.SCRATCH_COLOR
    assert len(set(colors.values())) == 4
    assert figures.strategy_colors(["top_k", "full"])["full"] == colors["full"]


def test_small_label_sets_render(tmp_path: Path) -> None:
    run = load_run(make_run_dir(tmp_path / "r", labels=("a", "b")))
    assert_nontrivial_png(figures.class_balance(run.data))
    test = run.metrics.test
    assert_nontrivial_png(figures.confusion_matrix(test.labels, test.confusion_matrix))
