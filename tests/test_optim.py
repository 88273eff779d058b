"""Schedules are pure functions: test their shape directly."""

from __future__ import annotations

import pytest

from tunelab.config import TrainConfig
from tunelab.optim import lr_multiplier, warmup_steps_for


def test_linear_warmup_then_linear_decay():
    values = [lr_multiplier(s, total_steps=10, warmup_steps=2, kind="linear") for s in range(10)]
    assert values[:2] == [0.5, 1.0]
    assert values[2] == pytest.approx(1.0)
    assert values[6] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(values[2:], values[3:], strict=False))


def test_cosine_reaches_half_at_midpoint_and_zero_at_end():
    assert lr_multiplier(5, 10, 0, "cosine") == pytest.approx(0.5)
    assert lr_multiplier(10, 10, 0, "cosine") == pytest.approx(0.0)


def test_constant_after_warmup():
    assert [lr_multiplier(s, 10, 3, "constant") for s in (0, 2, 3, 9)] == pytest.approx(
        [1 / 3, 1.0, 1.0, 1.0]
    )


def test_warmup_steps_override_ratio():
    assert warmup_steps_for(TrainConfig(warmup_ratio=0.1), 200) == 20
    assert warmup_steps_for(TrainConfig(warmup_ratio=0.1, warmup_steps=7), 200) == 7


def test_unknown_schedule_raises():
    with pytest.raises(ValueError):
        lr_multiplier(5, 10, 0, "exponential")
