"""The trainer's checkpoints: ``last`` (weights and all that exact resume needs) and
``best`` (the weights of the best evaluation, restored when training ends).

Only weights that can differ from the freshly built model are saved: trained parameters
and buffers, so a frozen-backbone run's checkpoint is the size of its head. Without a
run directory the best weights are kept in memory instead.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from rich.console import Console
from rich.markup import escape

from tunelab import checkpoint
from tunelab.callbacks import Callback
from tunelab.io import remove_orphan_temps, write_text
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan

if TYPE_CHECKING:
    from tunelab.trainer import TrainState


def trained_param_names(
    model: torch.nn.Module, groups: list[LayerGroup], plans: list[GroupPlan]
) -> set[str]:
    """Names of the parameters a plan ever trains (LoRA: its adapters, not the base)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        names[id(p)]
        for group, plan in zip(groups, plans, strict=True)
        if plan.ever_trains
        for p in group.params
        if plan.state != "lora" or p.requires_grad
    }


class TrainCheckpoints:
    """Saves and restores one training's ``checkpoints/last`` and ``checkpoints/best``.

    Args:
        run_dir: the run directory, or None to keep the best weights in memory only.
        model: the unwrapped model whose weights are saved and restored.
        trained_names: the parameters worth saving (:func:`trained_param_names`).
        optimizer, scheduler, callbacks: the stateful parts ``last`` holds for resume.
    """

    def __init__(
        self,
        run_dir: Path | None,
        model: torch.nn.Module,
        trained_names: set[str],
        optimizer: Any,
        scheduler: Any,
        callbacks: list[Callback],
    ) -> None:
        self.run_dir, self.model, self.trained_names = run_dir, model, trained_names
        self.optimizer, self.scheduler, self.callbacks = optimizer, scheduler, callbacks
        self._best_in_memory: dict[str, torch.Tensor] = {}

    def save_best(self) -> None:
        """Keep the current weights as the best so far."""
        if self.run_dir is None:
            self._best_in_memory = {k: v.detach().clone() for k, v in self._trained().items()}
            return
        checkpoint.save_weights(self.run_dir / "checkpoints" / "best", self._trained())

    def restore_best(self) -> None:
        """Load the best weights saved by :meth:`save_best` back into the model."""
        if self.run_dir is None:
            weights = self._best_in_memory
        else:
            weights = checkpoint.load_weights(self.run_dir / "checkpoints" / "best")
        self.model.load_state_dict(weights, strict=False)

    def save_last(self, state: TrainState) -> None:
        """Write ``last``: weights, optimizer, scheduler, callbacks, ``state`` and RNGs."""
        saved = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "callbacks": {type(c).__name__: c.state_dict() for c in self.callbacks},
            "train_state": asdict(state),
            "rng": checkpoint.get_rng_state(),
        }
        checkpoint.save_training_state(
            self.run_dir / "checkpoints" / "last", self._trained(), saved
        )

    def resume(self, console: Console) -> dict[str, Any]:
        """Put the model, optimizer, scheduler, callbacks, RNGs and ``history.jsonl`` back
        where ``last`` left them; returns the saved :class:`TrainState` fields."""
        weights, saved = checkpoint.load_training_state(self.run_dir / "checkpoints" / "last")
        for orphan in remove_orphan_temps(self.run_dir):  # a kill mid-write leaves these
            console.print(f"removed {escape(orphan.name)}, left by an interrupted write")
        self.model.load_state_dict(weights, strict=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        for callback in self.callbacks:
            callback_state = saved["callbacks"].get(type(callback).__name__)
            if callback_state is not None:
                callback.load_state_dict(callback_state)
        checkpoint.set_rng_state(saved["rng"])
        history = saved["train_state"]["history"]
        write_text(
            self.run_dir / "history.jsonl", "".join(checkpoint.json_line(row) for row in history)
        )
        return saved["train_state"]

    def _trained(self) -> dict[str, torch.Tensor]:
        """Weights that can differ from the freshly built model: trained params + buffers."""
        state = {n: p for n, p in self.model.named_parameters() if n in self.trained_names}
        state.update(dict(self.model.named_buffers()))
        return state
