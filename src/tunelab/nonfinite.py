"""What a NaN/inf loss or gradient does to a run (``train.on_nonfinite``).

``stop`` ends the run with :class:`TrainingDiverged`, naming the step and the likely
cause; ``skip`` drops that step's update and counts it, and a run whose every step was
skipped still fails, because nothing was trained. Kept out of the loop so each decision
and its message can be checked on scripted values, without training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console

from tunelab.config import TrainConfig
from tunelab.errors import TrainingDiverged

if TYPE_CHECKING:
    from tunelab.trainer import TrainState


@dataclass
class NonfiniteGuard:
    """Judges each step's loss and gradient norm under the run's settings.

    Attributes:
        cfg: the training settings (``on_nonfinite``, and the learning rates a cause names).
        fp16: whether the run computes in fp16, where an overflow is the likely cause.
    """

    cfg: TrainConfig
    fp16: bool

    def finite(self, what: str, value: float, state: TrainState) -> bool:
        """True for a finite value; else stop (TrainingDiverged) or, when
        ``train.on_nonfinite: skip``, False so the step's update is skipped."""
        if math.isfinite(value) or self.cfg.on_nonfinite == "skip":
            return math.isfinite(value)
        raise TrainingDiverged(
            f"step {state.step + 1} (epoch {state.epoch + 1}): the training {what} "
            f"is {value}; likely cause: {self.cause(state)}; or set "
            "train.on_nonfinite: skip to skip such steps"
        )

    def cause(self, state: TrainState) -> str:
        """The likely reason a loss or gradient stopped being finite."""
        if self.fp16:
            return "fp16 overflow: use train.mixed_precision bf16 or no, or lower train.lr"
        if state.step == state.nonfinite_skipped:  # no update applied yet
            return (
                "the model's output is not finite before any update (NaN/inf in weights or inputs)"
            )
        return (
            f"a learning rate too high (train.lr {self.cfg.lr:g}, train.head_lr "
            f"{self.cfg.head_lr:g}): lower it, or set train.grad_clip"
        )

    def check_trained(self, state: TrainState, console: Console) -> None:
        """After training: fail when every step was skipped, warn when some were."""
        if state.nonfinite_skipped >= max(state.step, 1):
            raise TrainingDiverged(
                f"all {state.step} optimizer steps had a non-finite loss or gradient and were "
                f"skipped (train.on_nonfinite: skip), so nothing was trained; likely cause: "
                f"{self.cause(state)}"
            )
        if state.nonfinite_skipped:
            console.print(
                f"[yellow]warning:[/] {state.nonfinite_skipped} of {state.step} optimizer steps "
                "skipped for a non-finite loss or gradient (train.on_nonfinite: skip)"
            )
