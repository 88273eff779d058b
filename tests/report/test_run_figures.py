"""The figures of one run render to real PNGs, without leaking pyplot state."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tunelab.report import run_figures
from tunelab.report.loader import load_run
from tunelab.report.records import CLASSIFICATION_OBJECTIVE, EvalRecord, LayerGroup
from tunelab.tasks.classification_report import confusion_matrix_figure

from .conftest import assert_nontrivial_png, make_run_dir


@pytest.fixture
def run(run_dir: Path):
    return load_run(run_dir)


def test_run_figures_are_pngs(run) -> None:
    test = run.metrics.test_details
    uris = [
        run_figures.layer_diagram(run.layers),
        run_figures.learning_curves(run.history, run.metrics.objective),
        confusion_matrix_figure(test["labels"], test["confusion_matrix"]),
    ]
    for uri in uris:
        assert_nontrivial_png(uri)
    assert plt.get_fignums() == []  # built without pyplot: nothing left open


def test_gradual_unfreeze_notes_use_one_based_epochs() -> None:
    frozen = LayerGroup("layer.0", 1000, "frozen", 1.0, 0.0, unfreeze_epoch=6)
    trained = LayerGroup("layer.5", 1000, "trained", 0.41, 2.05e-5, unfreeze_epoch=2)
    head = LayerGroup("head", 10, "trained", 1.0, 1e-3, unfreeze_epoch=0)
    assert run_figures._layer_detail(frozen) == "unfreezes at epoch 7"
    assert run_figures._layer_detail(trained) == "lr 2.1e-5 (×0.41) · unfrozen at epoch 3"
    assert run_figures._layer_detail(head) == "lr 0.001 (×1) · trains from start"


def _record(i: int, phase: int = 0) -> EvalRecord:
    """The i-th of three evaluations per epoch (``eval_every_steps``)."""
    return EvalRecord(
        epoch=1 + (i - 1) // 3,
        step=20 * i,
        lr=1e-5,
        phase=phase,
        trainable_params=None,
        train={"loss": 1.0 / i},
        val={"loss": 1.1 / i, "accuracy": 0.5, "f1_macro": 0.4 + i / 100},
    )


def test_learning_curves_render_several_evals_per_epoch_and_phases() -> None:
    history = [_record(i, phase=0 if i < 4 else 1) for i in range(1, 7)]
    assert_nontrivial_png(run_figures.learning_curves(history, CLASSIFICATION_OBJECTIVE))


def test_learning_curves_accept_one_evaluation() -> None:
    assert_nontrivial_png(run_figures.learning_curves([_record(1)], CLASSIFICATION_OBJECTIVE))


def test_small_label_sets_render(tmp_path: Path) -> None:
    test = load_run(make_run_dir(tmp_path / "r", labels=("a", "b"))).metrics.test_details
    assert_nontrivial_png(confusion_matrix_figure(test["labels"], test["confusion_matrix"]))
