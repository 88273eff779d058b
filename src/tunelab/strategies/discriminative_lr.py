"""Discriminative (layer-wise) learning rates: lower layers move less."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.config import StrategyConfig
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy


class DiscriminativeLRConfig(StrategyConfig):
    """``lr_decay``: each group down from the top trains at this times the LR above it."""

    name: Literal["discriminative_lr"] = "discriminative_lr"
    lr_decay: float = Field(0.8, gt=0.0, le=1.0)


@register_strategy
class DiscriminativeLR(Strategy):
    """All groups train; group ``i`` of ``n`` backbone groups gets ``decay ** (n-1-i)``.

    Lower layers hold general features that transfer; scaling their LR down (ULMFiT,
    timm's ``layer_decay``) limits how far fine-tuning moves them. The head trains at
    ``train.head_lr``.
    """

    name = "discriminative_lr"
    config_class = DiscriminativeLRConfig

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        top = len(groups) - 2
        return [
            GroupPlan("trained", lr_scale=self.cfg.lr_decay ** (top - i))
            for i in range(len(groups) - 1)
        ] + [GroupPlan("trained")]

    @classmethod
    def search_space(cls) -> dict[str, dict]:
        return {"strategy.lr_decay": {"uniform": [0.5, 1.0]}}
