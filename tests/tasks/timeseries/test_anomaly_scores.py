"""``validation_scores``: the model's scores of the validation stream, kept on the splits
while the weights stay as they were, and scored afresh once they change."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.tasks.timeseries.conftest import make_anomalous
from tunelab.config import load_config
from tunelab.tasks import get_task
from tunelab.tasks.timeseries import anomaly_scores
from tunelab.tasks.timeseries.anomaly_scores import validation_scores, weights_digest


@pytest.fixture
def detector(tiny_patchtst, tmp_path):
    """Splits and an untrained forecaster of the anomaly task (a 300-point series)."""
    make_anomalous(300, at=(280, 281)).to_csv(tmp_path / "series.csv", index=False)
    cfg = load_config(base={
        "task": "anomaly_detection",
        "model": {"name": str(tiny_patchtst)},
        "data": {"train": str(tmp_path / "series.csv"), "test_fraction": 0.2},
    })  # fmt: skip
    task = get_task(cfg.task)
    splits = task.prepare_data(cfg)
    return task.build_model(cfg, splits).model.eval(), splits


@pytest.fixture
def passes(monkeypatch) -> list:
    """One entry per call of ``model_scores`` (one pass of the model over a stream)."""
    calls = []
    score = anomaly_scores.model_scores

    def counted(model, stream, *args, **kwargs):
        calls.append(stream)
        return score(model, stream, *args, **kwargs)

    monkeypatch.setattr(anomaly_scores, "model_scores", counted)
    return calls


def test_scores_are_kept_while_the_weights_stay_and_redone_when_they_change(detector, passes):
    model, splits = detector
    first = validation_scores(model, splits)
    assert validation_scores(model, splits, "cpu") is first and len(passes) == 1
    assert passes[0] is splits.validation_stream and len(first) == 48  # 20% of 300 - 60

    model.head[1].weight.data.mul_(2.0)  # through .data: no version counter sees this
    second = validation_scores(model, splits)
    assert len(passes) == 2 and not np.allclose(first, second)
    stream = splits.validation_stream
    expected = anomaly_scores.model_scores(model, stream, splits.context, splits.score,
                                           splits.horizon)  # fmt: skip
    np.testing.assert_array_equal(second, expected)
    assert len(splits.scored) == 1  # the first weights' scores are not kept


def test_the_digest_names_the_weights_not_the_module(detector):
    model, _ = detector
    before = weights_digest(model)
    assert weights_digest(model) == before
    with torch.no_grad():
        model.head[1].bias.add_(0.0)  # an in-place write that changes nothing
    assert weights_digest(model) == before
    with torch.no_grad():
        model.head[1].bias[0] += 1e-3
    assert weights_digest(model) != before
