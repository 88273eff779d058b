"""forecasting end to end on a tiny random-init PatchTST directory."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tunelab
from tests.tasks.timeseries.conftest import make_long
from tunelab.errors import ConfigError, DataError
from tunelab.evaluation import evaluate_run
from tunelab.tasks import get_task

METRICS = {"mae", "rmse", "mase", "smape"}


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "monthly.csv"
    frame = make_long(96)
    frame.loc[5, "value"] = np.nan
    frame.to_csv(path, index=False)
    return path


def _config(model_dir, train, strategy="full", **forecast):
    return {
        "task": "forecasting",
        "model": {"name": str(model_dir)},
        "data": {"train": str(train)},
        "forecast": {"horizon": 12, "baselines": ["seasonal_naive", "mean"], **forecast},
        "strategy": {"name": strategy},
        "train": {"epochs": 2, "batch_size": 16, "device": "cpu", "seed": 0},
    }


def test_run_records_model_and_baseline_scores(tiny_patchtst, long_csv, tmp_path):
    result = tunelab.fine_tune(_config(tiny_patchtst, long_csv), tmp_path / "run")
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert set(test) >= METRICS
    assert {f"seasonal_naive_{m}" for m in METRICS} <= set(test)
    assert {f"mean_{m}" for m in METRICS} <= set(test)
    # the seasonal-naive forecast of a seasonal series beats the flat mean
    assert test["seasonal_naive_mase"] < test["mean_mase"]
    assert metrics["baselines"]["mean"]["test"]["mase"] == test["mean_mase"]
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["series"]["season_length"] == 12 and summary["series"]["missing_values"] == 1
    assert summary["splits"]["test"]["n"] == 1 and summary["splits"]["train"]["n"] > 40


def test_reload_forecasts_the_same_and_evaluate_matches_the_test_window(
    tiny_patchtst, long_csv, tmp_path
):
    run = tunelab.fine_tune(_config(tiny_patchtst, long_csv), tmp_path / "run")
    predictor = tunelab.load(run.run_dir)
    history = make_long(96)["value"].tolist()[:-12]
    first = predictor.predict(history)[0].to_dict()["forecast"]
    assert len(first) == 12 and first == tunelab.load(run.run_dir).predict(history)[0].values
    scored = evaluate_run(run.run_dir, str(long_csv))
    assert scored["mase"] == pytest.approx(run.metrics["test"]["mase"], rel=1e-4)
    records = get_task("forecasting").read_inputs(run.run_dir, ["1,2,3,4", "1"], None)
    out = predictor.predict_records(records)
    assert len(out[0]["forecast"]) == 12 and "at least two" in out[1]["error"]


@pytest.mark.parametrize("strategy", ["feature_extraction", "lora", "gradual_unfreeze"])
def test_strategies_run(strategy, tiny_patchtst, long_csv, tmp_path):
    result = tunelab.fine_tune(_config(tiny_patchtst, long_csv, strategy), tmp_path / "run")
    assert np.isfinite(result.metrics["test"]["mase"])


def test_feature_extraction_solves_the_linear_head_and_beats_the_mean(
    tiny_patchtst, long_csv, tmp_path
):
    result = tunelab.fine_tune(
        _config(tiny_patchtst, long_csv, "feature_extraction"), tmp_path / "run"
    )
    assert result.metrics["test"]["mase"] < result.metrics["test"]["mean_mase"]


def test_a_given_test_file_holds_the_test_window(tiny_patchtst, tmp_path):
    frame = make_long(108)
    frame.iloc[:96].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[96:].to_csv(tmp_path / "test.csv", index=False)
    cfg = _config(tiny_patchtst, tmp_path / "train.csv")
    cfg["data"]["test"] = str(tmp_path / "test.csv")
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["series"]["history_points"] == {"value": 96}


def test_series_ids_and_two_value_columns_make_four_series(tiny_patchtst, tmp_path):
    parts = []
    for name in ("a", "b"):
        part = make_long(80, seed=ord(name))
        part["other"] = part["value"] * 2
        part.insert(0, "id", name)
        parts.append(part)
    path = tmp_path / "ids.csv"
    import pandas as pd

    pd.concat(parts).to_csv(path, index=False)
    cfg = _config(tiny_patchtst, path)
    cfg["data"].update(series_column="id", target_column=["value", "other"])
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["series"]["count"] == 4 and summary["splits"]["test"]["n"] == 4


def test_bad_config_and_data_are_one_line_errors(tiny_patchtst, long_csv, tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'forecast.horizn'"):
        tunelab.fine_tune({**_config(tiny_patchtst, long_csv), "forecast": {"horizn": 3}})
    cfg = _config(tiny_patchtst, long_csv)
    cfg["data"]["target_column"] = "sales"
    with pytest.raises(DataError, match="no column 'sales'"):
        tunelab.fine_tune(cfg, tmp_path / "a")
    with pytest.raises(DataError, match="lower the horizon"):
        tunelab.fine_tune(_config(tiny_patchtst, long_csv, horizon=40), tmp_path / "b")


def test_fracast_row_when_the_package_is_installed(tiny_patchtst, long_csv, tmp_path):
    pytest.importorskip("fracast", reason="Fracast-0 ships in the fracast package")
    cfg = _config(tiny_patchtst, long_csv, baselines=["fracast", "mean"])
    cfg["train"]["max_steps"] = 1
    metrics = tunelab.fine_tune(cfg, tmp_path / "run").metrics
    fracast = metrics["baselines"]["fracast"]["test"]
    assert fracast["mase"] < metrics["test"]["mean_mase"]  # a real forecaster beats the mean
    assert 0.0 <= fracast["coverage"] <= 1.0 and "fracast_mase" in metrics["test"]


@pytest.mark.parametrize(
    "task_name, key, says",
    [("forecasting", "histories", "this model forecasts"),
     ("anomaly_detection", "series", "this model scores series")],
)  # fmt: skip
def test_a_serve_request_takes_the_series_under_the_tasks_own_key(task_name, key, says):
    """One ``request_inputs`` for both tasks; each names its own key in its refusal."""
    task = get_task(task_name)
    assert task.request_inputs({key: [[1.0, 2.0], "3,4"]}) == [[1.0, 2.0], "3,4"]
    other = "series" if key == "histories" else "histories"
    for payload in ({other: [[1.0]]}, {key: [[1.0]], "texts": ["x"]}, {key: None}, {}):
        with pytest.raises(ValueError) as refused:
            task.request_inputs(payload)
        assert str(refused.value) == f'{says}: send {{"{key}": [[1.0, 2.0, ...], ...]}}'
