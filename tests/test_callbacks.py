"""Callbacks driven by scripted metric sequences: no training needed."""

from __future__ import annotations

import pytest

from tunelab.callbacks import EarlyStopping, GradualUnfreezing
from tunelab.layers import LayerGroup


@pytest.mark.parametrize(
    ("values", "mode", "patience", "min_delta", "stop_after"),
    [
        ([0.5, 0.6, 0.6, 0.6], "max", 2, 0.0, 4),
        ([0.5, 0.6, 0.605, 0.609, 0.608], "max", 2, 0.01, 4),
        ([1.0, 0.9, 0.95, 0.97, 0.99], "min", 3, 0.0, 5),
        ([0.1, 0.2, 0.3, 0.4], "max", 1, 0.0, None),
    ],
)
def test_early_stopping_scripted(values, mode, patience, min_delta, stop_after):
    stopper = EarlyStopping("f1_macro", mode, patience, min_delta)
    stopped_at = None
    for i, value in enumerate(values, start=1):
        stopper.update(value)
        if stopper.should_stop and stopped_at is None:
            stopped_at = i
    assert stopped_at == stop_after


def test_early_stopping_nan_is_not_an_improvement():
    stopper = EarlyStopping("loss", "min", patience=1)
    assert stopper.update(1.0)
    assert not stopper.update(float("nan"))
    assert stopper.should_stop and stopper.best == 1.0


def test_early_stopping_state_roundtrip():
    stopper = EarlyStopping("f1_macro", "max", patience=3)
    for value in (0.5, 0.7, 0.6):
        stopper.update(value)
    restored = EarlyStopping("f1_macro", "max", patience=3)
    restored.load_state_dict(stopper.state_dict())
    assert (restored.best, restored.bad_evaluations) == (0.7, 1)
    restored.update(0.65)
    restored.update(0.69)
    assert restored.should_stop


def _groups(n: int) -> list[LayerGroup]:
    import torch

    return [
        LayerGroup(f"layer.{i}", [torch.nn.Parameter(torch.zeros(2), requires_grad=False)])
        for i in range(n)
    ]


def test_gradual_unfreezing_epoch_schedule_from_top():
    groups = _groups(3)
    unfreeze = GradualUnfreezing(groups, every_epochs=2)
    trainable = []
    for epoch in range(8):
        unfreeze._move_to(unfreeze.target_phase(epoch, step=0), trainer=None)
        trainable.append([g.num_trainable > 0 for g in groups])
    assert trainable[0] == trainable[1] == [False, False, False]
    assert trainable[2] == [False, False, True]
    assert trainable[4] == [False, True, True]
    assert trainable[6] == trainable[7] == [True, True, True]


def test_gradual_unfreezing_resume_restores_phase():
    groups = _groups(3)
    restored = GradualUnfreezing(groups)
    restored.load_state_dict({"phase": 2})
    assert restored.phase == 2
    assert [g.num_trainable > 0 for g in groups] == [False, True, True]


def test_disabled_early_stopping_tracks_best_but_never_stops():
    stopper = EarlyStopping("f1_macro", "max", patience=None)
    for value in (0.5, 0.4, 0.3, 0.2, 0.1):
        stopper.update(value)
    assert not stopper.should_stop and stopper.best == 0.5
