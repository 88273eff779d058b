"""Gradual unfreezing (ULMFiT): head first, then one more group from the top each phase."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.callbacks import GradualUnfreezing
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy
from tunelab.strategies.simple import FrozenPrefixConfig


class GradualUnfreezeConfig(FrozenPrefixConfig):
    """How long each phase lasts: epochs, or optimizer steps when set."""

    name: Literal["gradual_unfreeze"] = "gradual_unfreeze"
    unfreeze_every_epochs: int = Field(1, ge=1)
    unfreeze_every_steps: int | None = Field(None, ge=1)


@register_strategy
class GradualUnfreeze(Strategy):
    """Phase 0 trains the head only; phase ``p`` adds the top ``p`` backbone groups.

    A phase lasts ``strategy.unfreeze_every_epochs`` epochs (or
    ``strategy.unfreeze_every_steps`` optimizer steps). Training the new head first
    keeps its random gradients from wrecking the pretrained layers.
    """

    name = "gradual_unfreeze"
    config_class = GradualUnfreezeConfig

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        backbone = len(groups) - 1
        every, every_steps = self.cfg.unfreeze_every_epochs, self.cfg.unfreeze_every_steps
        plans = [
            GroupPlan(
                "frozen",
                unfreeze_epoch=(backbone - i) * every,
                unfreeze_step=(backbone - i) * every_steps if every_steps else None,
            )
            for i in range(backbone)
        ]
        return plans + [GroupPlan("trained", unfreeze_epoch=0)]

    def callbacks(self, groups: list[LayerGroup], plans: list[GroupPlan]) -> list:
        return [
            GradualUnfreezing(
                groups[:-1],
                every_epochs=self.cfg.unfreeze_every_epochs,
                every_steps=self.cfg.unfreeze_every_steps,
            )
        ]
