"""compare's reference rows: models a task fits besides the network (``metrics.json``
``baselines``) appear as rows, outside the recommendation and transfer gain. The seam
names no task; these run directories are written by hand."""

from __future__ import annotations

import json
from pathlib import Path

from tunelab.comparison import summarise
from tunelab.config import load_config

OBJECTIVE = {
    "monitor": "mase",
    "train_metric": None,
    "metrics": [{"name": "mase", "label": "MASE", "mode": "min", "short": "mase"}],
    "final_metrics": [],
    "headline": ["mase"],
}


def _run(path: Path, mase: float, baselines: dict) -> Path:
    path.mkdir(parents=True)
    metrics = {
        "test": {"mase": mase, "latency_ms_p50": 1.0},
        "validation": {"mase": mase},
        "objective": OBJECTIVE,
        "train_seconds": 2.0,
        "seconds_per_epoch": 1.0,
        "trainable_params": 10,
        "total_params": 10,
        "peak_memory_mb": 1.0,
        "baselines": baselines,
    }
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "history.jsonl").write_text("")
    return path


def test_recorded_baselines_become_rows_outside_the_recommendation(tmp_path):
    baselines = {
        "ets": {"test": {"mase": 0.3}, "validation": {"mase": 0.1}, "fit_seconds": 4.0},
        "arima": {"skipped": "ImportError: statsmodels"},
    }
    runs = {
        "full": [_run(tmp_path / "full", 0.8, baselines)],
        "scratch": [_run(tmp_path / "scratch", 0.9, baselines)],
    }
    summary = summarise(load_config(base={"task": "forecasting"}), runs, tmp_path)
    rows = {row["strategy"]: row for row in summary["strategies"]}
    assert list(rows) == ["full", "scratch", "ets"]  # the skipped one has no row
    assert rows["ets"]["mase_mean"] == 0.3 and rows["ets"]["train_seconds_mean"] == 4.0
    assert rows["ets"]["run_dirs"] == [] and rows["ets"]["trainable_params"] == 0
    # the better validation score of ets recommends nothing: only strategies compete
    assert summary["recommendation"]["strategy"] == "full"
    assert summary["transfer_gain"]["best_strategy"] == "full"


def test_runs_without_baselines_add_no_rows(tmp_path):
    runs = {"full": [_run(tmp_path / "full", 0.8, {})]}
    summary = summarise(load_config(base={"task": "forecasting"}), runs, tmp_path)
    assert [row["strategy"] for row in summary["strategies"]] == ["full"]
