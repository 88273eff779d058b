"""Anomaly scoring as pure functions: segments, point adjustment, thresholds, scores."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab.tasks.timeseries.anomaly_data import Stream, scoring_origins
from tunelab.tasks.timeseries.anomaly_metrics import (
    choose_threshold,
    detection_scores,
    point_adjust,
    segments,
)
from tunelab.tasks.timeseries.anomaly_scores import baseline_scores

LABELS = np.array([0, 1, 1, 1, 0, 0, 1, 0])


def test_segments_are_the_runs_of_ones():
    assert segments(LABELS) == [(1, 4), (6, 7)]
    assert segments(np.zeros(3)) == [] and segments(np.ones(2)) == [(0, 2)]


def test_point_adjustment_flags_a_segment_whole_when_one_point_is_flagged():
    flags = np.array([0, 0, 1, 0, 0, 1, 0, 0], dtype=bool)
    assert point_adjust(flags, LABELS).astype(int).tolist() == [0, 1, 1, 1, 0, 1, 0, 0]


def test_point_wise_and_point_adjusted_scores_differ_as_defined():
    scores = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 5.0, 0.0, 0.0])
    found = detection_scores(scores, LABELS, threshold=1.0)
    # point-wise: 1 of 2 flagged points is anomalous, 1 of 4 anomalous points found
    assert found["precision"] == 0.5 and found["recall"] == 0.25
    assert found["f1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    # adjusted: the first segment counts whole (3 points), the second is missed
    assert found["pa_precision"] == 0.75 and found["pa_recall"] == 0.75
    assert found["flagged"] == 2


def test_pr_auc_is_one_for_a_perfect_ranking_and_nan_without_anomalies():
    assert detection_scores(LABELS * 3.0, LABELS, 1.0)["pr_auc"] == 1.0
    assert np.isnan(detection_scores(np.arange(4.0), np.zeros(4), 1.0)["pr_auc"])


def test_threshold_rules():
    validation, test = np.arange(101.0), np.arange(1000.0)
    assert choose_threshold("validation_quantile", test, validation, 0.9, 0.5) == 90.0
    assert choose_threshold("contamination", test, validation, 0.9, 0.01) == pytest.approx(
        np.quantile(test, 0.99)
    )


@pytest.mark.parametrize("score,horizon", [("forecast", 1), ("forecast", 3), ("reconstruction", 8)])
def test_scoring_windows_cover_every_point_after_the_minimum_past(score, horizon):
    origins = scoring_origins(40, 10, 30, 8, score, horizon)
    width = horizon
    covered = {
        point
        for origin in origins
        for point in (
            range(origin - width, origin)
            if score == "reconstruction"
            else range(origin, origin + horizon)
        )  # fmt: skip
    }
    assert set(range(10, 30)) <= covered
    assert all(0 <= p < 40 for p in covered)


def test_baselines_score_a_spike_highest():
    t = np.arange(200)
    values = np.sin(2 * np.pi * t / 16).astype(np.float32)
    values[150] += 5.0
    stream = Stream(values, np.zeros(200, np.int8), 100, 200)
    for method in ("rolling_zscore", "naive"):
        scores = baseline_scores(method, stream, context=32)
        assert len(scores) == 100 and int(np.argmax(scores)) == 50
