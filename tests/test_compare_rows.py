"""compare's summary rows from run directories written by hand (no training)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tunelab.compare_rows import BASE, baseline_row, reference_rows, strategy_row

OBJECTIVE = {
    "monitor": "f1_macro",
    "metrics": [
        {"name": "f1_macro", "label": "macro-F1", "mode": "max"},
        {"name": "loss", "label": "loss", "mode": "min"},
    ],
    "final_metrics": [{"name": "ece", "label": "ECE", "mode": "min"}],
}


def _run(path: Path, f1: float, **extra) -> Path:
    path.mkdir(parents=True)
    metrics = {
        "test": {"f1_macro": f1, "loss": 1 - f1, "ece": 0.1, "latency_ms_p50": 2.0},
        "validation": {"f1_macro": f1 + 0.1},
        "objective": OBJECTIVE,
        "train_seconds": 4.0,
        "seconds_per_epoch": 2.0,
        "trainable_params": 7,
        "total_params": 70,
        "peak_memory_mb": 5.0,
        **extra,
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


def test_a_strategy_row_is_mean_and_std_over_seeds(tmp_path):
    dirs = [_run(tmp_path / "runs" / f"top_k-seed{k}", f1) for k, f1 in enumerate((0.6, 0.8))]
    row = strategy_row("top_k", dirs, tmp_path, OBJECTIVE)
    assert (row["strategy"], row["n_seeds"]) == ("top_k", 2)
    assert row["f1_macro_mean"] == pytest.approx(0.7) and row["f1_macro_std"] == pytest.approx(0.1)
    assert row["ece_mean"] == pytest.approx(0.1) and row["val_f1_macro_mean"] == pytest.approx(0.8)
    assert (row["trainable_params"], row["train_seconds_mean"]) == (7, 4.0)
    assert row["run_dirs"] == ["runs/top_k-seed0", "runs/top_k-seed1"]
    assert "reference_ppl_rise" not in row


def test_the_base_row_is_the_recorded_untouched_model(tmp_path):
    baseline = {"test": {"f1_macro": 0.3, "latency_ms_p50": 1.5}, "validation": {"f1_macro": 0.4}}
    runs = {"full": [_run(tmp_path / "full", 0.8, baseline=baseline)]}
    row = baseline_row(runs, OBJECTIVE)
    assert (row["strategy"], row["n_seeds"], row["f1_macro_mean"]) == (BASE, 1, 0.3)
    assert math.isnan(row["loss_mean"]) and row["f1_macro_std"] == 0.0
    assert (row["val_f1_macro_mean"], row["total_params"], row["latency_ms_p50"]) == (0.4, 70, 1.5)
    assert baseline_row({"full": [_run(tmp_path / "other", 0.8)]}, OBJECTIVE) is None


def test_reference_rows_skip_a_model_that_was_not_fitted(tmp_path):
    baselines = {
        "tfidf_logreg": {"test": {"f1_macro": 0.5}, "fit_seconds": 0.2},
        "svm": {"skipped": "ImportError: sklearn"},
    }
    (row,) = reference_rows(
        {"full": [_run(tmp_path / "full", 0.8, baselines=baselines)]}, OBJECTIVE
    )
    assert (row["strategy"], row["f1_macro_mean"], row["train_seconds_mean"]) == (
        "tfidf_logreg",
        0.5,
        0.2,
    )
    assert math.isnan(row["val_f1_macro_mean"]) and row["run_dirs"] == []
