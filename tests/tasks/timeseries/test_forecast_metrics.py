"""Forecast metrics and baselines, as pure functions on hand-checked numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.tasks.timeseries.baselines import mean_forecast, seasonal_naive
from tunelab.tasks.timeseries.forecast_data import season_length, windows_of
from tunelab.tasks.timeseries.forecast_metrics import (
    ForecastObjective,
    forecast_scores,
    interval_coverage,
    mase_scale,
)


def test_scores_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])
    truth = np.array([[1.0, 4.0], [3.0, 3.0]])
    scores = forecast_scores(pred, truth, np.array([1.0, 2.0]))
    assert scores["mae"] == pytest.approx(1.0)
    assert scores["rmse"] == pytest.approx(np.sqrt(2.0))
    assert scores["mase"] == pytest.approx((1.0 / 1 + 1.0 / 2) / 2)
    assert scores["smape"] == pytest.approx(100 * (0 + 4 / 6 + 0 + 4 / 8) / 4)


def test_mase_scale_is_the_seasonal_naive_error_of_the_history():
    history = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 3.0])
    assert mase_scale(history, 2) == pytest.approx(np.mean([2.0, 0.0, 1.0, 1.0]))
    assert mase_scale(history, 10) == pytest.approx(np.mean(np.abs(np.diff(history))))


def test_seasonal_naive_repeats_the_last_season_and_scores_mase_one_on_a_repeating_series():
    season = np.array([1.0, 5.0, 2.0, 8.0])
    history = np.tile(season, 3) + np.repeat([0.0, 1.0, 2.0], 4)  # a trend between seasons
    forecast = seasonal_naive(history, 6, 4)
    assert forecast.tolist() == [3.0, 7.0, 4.0, 10.0, 3.0, 7.0]
    assert mean_forecast(history, 2).tolist() == [history.mean()] * 2
    truth = history[-4:] + 1.0  # next season, one step up, as in the history
    scores = forecast_scores(forecast[None, :4], truth[None], np.array([mase_scale(history, 4)]))
    assert scores["mase"] == pytest.approx(1.0)


def test_interval_coverage():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    assert interval_coverage(truth - 1, truth + 1, truth) == 1.0
    assert interval_coverage(truth + 0.5, truth + 1, truth) == 0.0


def test_windows_pad_the_start_and_mark_it_unobserved():
    values = np.arange(10, dtype=np.float32)
    w = windows_of(values, [3, 8], context=5, horizon=2, scale=1.5, name="s")
    assert w.context[0].tolist() == [0, 0, 0, 1, 2] and w.observed[0].tolist() == [0, 0, 1, 1, 1]
    assert w.future.tolist() == [[3, 4], [8, 9]] and w.scale.tolist() == [1.5, 1.5]


def test_objective_scores_in_the_series_units():
    values = np.arange(20, dtype=np.float32) * 10
    w = windows_of(values, [10], context=8, horizon=2, scale=10.0, name="s")
    targets = torch.from_numpy(w.targets())
    objective = ForecastObjective(horizon=2)
    perfect = targets[:, :2].clone()
    result = objective.evaluate([([0], perfect, targets)], 1)
    assert result.metrics["mae"] == pytest.approx(0.0, abs=1e-3)
    off = perfect + 1.0 / targets[:, 3:4]  # one unit off in the series' scale
    result = objective.evaluate([([0], off, targets)], 1)
    assert result.metrics["mae"] == pytest.approx(1.0, rel=1e-4)
    assert result.metrics["mase"] == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize(("frequency", "season"), [("MS", 12), ("QS-OCT", 4), ("W-SAT", 52),
                                                   ("D", 7), ("h", 24), (None, 1)])  # fmt: skip
def test_season_length_from_the_frequency(frequency, season):
    assert season_length(frequency) == season
