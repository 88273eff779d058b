"""Stateful training callbacks, saved in every checkpoint so ``--resume`` restores them.

Like Lightning's callbacks, each has ``state_dict``/``load_state_dict``; their logic is
driven by plain numbers, so tests script metric sequences instead of training.
"""

from __future__ import annotations

import math
from typing import Any

from tunelab.layers import LayerGroup


class Callback:
    """Hooks the trainer calls; all are no-ops by default."""

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        """Called before the first batch of ``epoch`` (0-based)."""

    def on_step_end(self, trainer: Any, step: int) -> None:
        """Called after optimizer step number ``step`` (1-based)."""

    def on_evaluate(self, trainer: Any, metrics: dict[str, float]) -> None:
        """Called with the validation metrics of each evaluation."""

    def on_trainable_changed(self, trainer: Any) -> None:
        """Called when a group was (un)frozen mid-run (e.g. by gradual unfreezing)."""

    def state_dict(self) -> dict[str, Any]:
        """What must survive a resume."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class EarlyStopping(Callback):
    """Stop when ``metric`` has not improved by ``min_delta`` for ``patience`` evaluations.

    With ``patience=None`` it only tracks the best value (for the best checkpoint).
    """

    def __init__(
        self, metric: str, mode: str = "max", patience: int | None = 3, min_delta: float = 0.0
    ) -> None:
        self.metric, self.mode, self.patience, self.min_delta = metric, mode, patience, min_delta
        self.best: float | None = None
        self.bad_evaluations = 0
        self.should_stop = False
        self.improved = False

    def update(self, value: float) -> bool:
        """Record one value; return True when it is a new best."""
        if math.isnan(value):
            self.improved = False
        elif self.best is None:
            self.improved = True
        elif self.mode == "max":
            self.improved = value > self.best + self.min_delta
        else:
            self.improved = value < self.best - self.min_delta
        if self.improved:
            self.best, self.bad_evaluations = value, 0
        else:
            self.bad_evaluations += 1
            self.should_stop = self.patience is not None and self.bad_evaluations >= self.patience
        return self.improved

    def on_evaluate(self, trainer: Any, metrics: dict[str, float]) -> None:
        self.update(float(metrics[self.metric]))

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "bad_evaluations": self.bad_evaluations,
            "should_stop": self.should_stop,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.bad_evaluations = state["bad_evaluations"]
        self.should_stop = state["should_stop"]


class GradualUnfreezing(Callback):
    """Unfreeze backbone groups from the top: one more per phase (ULMFiT).

    ``phase`` is the number of backbone groups unfrozen; it is derived from the epoch (or
    step) and kept in the checkpoint, so a resumed run continues the same schedule.
    """

    def __init__(
        self,
        backbone_groups: list[LayerGroup],
        every_epochs: int = 1,
        every_steps: int | None = None,
    ) -> None:
        self.groups = backbone_groups
        self.every_epochs, self.every_steps = every_epochs, every_steps
        self.phase = 0

    def target_phase(self, epoch: int, step: int) -> int:
        """How many groups should be unfrozen at this point of training."""
        done = step // self.every_steps if self.every_steps else epoch // self.every_epochs
        return min(len(self.groups), done)

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self._move_to(self.target_phase(epoch, trainer.state.step), trainer)

    def on_step_end(self, trainer: Any, step: int) -> None:
        if self.every_steps:
            self._move_to(self.target_phase(0, step), trainer)

    def _move_to(self, phase: int, trainer: Any) -> None:
        for group in self.groups[len(self.groups) - phase :]:
            group.set_trainable(True)
        if phase != self.phase:
            self.phase = phase
            if trainer is not None:
                trainer.on_trainable_changed()

    def state_dict(self) -> dict[str, Any]:
        return {"phase": self.phase}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._move_to(state["phase"], trainer=None)
        self.phase = state["phase"]
