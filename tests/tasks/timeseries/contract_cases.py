"""The time-series tasks' cases for ``tests/tasks/test_contract.py``'s ``CASES``
(same signature as the others), and a test that runs the contract on them here."""

from __future__ import annotations

from pathlib import Path

from tests.tasks.timeseries.conftest import (
    make_anomalous,
    make_long,
    make_waves,
    save_tiny,
    write_ts,
)


def timeseries_classification_case(tiny_model_dir: Path, root: Path, lm_dir: Path):
    model = save_tiny(root / "tiny-patchtst")
    write_ts(root / "train.ts", *make_waves(20))
    holdout = write_ts(root / "holdout.ts", *make_waves(6, seed=1))
    config = {
        "task": "timeseries_classification",
        "model": {"name": str(model)},
        "data": {"train": str(root / "train.ts"), "val_fraction": 0.2, "test_fraction": 0.2},
        "train": {"baselines": []},
    }
    return config, ["0,1,0,-1,0,1,0,-1"], str(holdout)


def forecasting_case(tiny_model_dir: Path, root: Path, lm_dir: Path):
    model = save_tiny(root / "tiny-patchtst")
    make_long(96).to_csv(root / "monthly.csv", index=False)
    config = {
        "task": "forecasting",
        "model": {"name": str(model)},
        "data": {"train": str(root / "monthly.csv")},
        "forecast": {"horizon": 12, "baselines": ["seasonal_naive"]},
    }
    return config, ["1,2,3,4,5,6,7,8"], str(root / "monthly.csv")


def anomaly_detection_case(tiny_model_dir: Path, root: Path, lm_dir: Path):
    model = save_tiny(root / "tiny-patchtst")
    make_anomalous(160).to_csv(root / "train.csv", index=False)
    make_anomalous(120, seed=1, at=(90, 91)).to_csv(root / "test.csv", index=False)
    config = {
        "task": "anomaly_detection",
        "model": {"name": str(model)},
        "data": {"train": str(root / "train.csv"), "test": str(root / "test.csv")},
        "anomaly": {"baselines": ["rolling_zscore"]},
    }
    return config, ["0,1,0,-1,0,1,0,-1,0,1,0,-1,0,1,0,-1,5,1"], str(root / "test.csv")


CASES = {
    "timeseries_classification": timeseries_classification_case,
    "forecasting": forecasting_case,
    "anomaly_detection": anomaly_detection_case,
}
