"""Discriminative (layer-wise) learning rates: lower layers move less."""

from __future__ import annotations

from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy


@register_strategy
class DiscriminativeLR(Strategy):
    """All groups train; group ``i`` of ``n`` backbone groups gets ``decay ** (n-1-i)``.

    Lower layers hold general features that transfer; scaling their LR down (ULMFiT,
    timm's ``layer_decay``) limits how far fine-tuning moves them. The head trains at
    ``train.head_lr``.
    """

    name = "discriminative_lr"

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        top = len(groups) - 2
        return [
            GroupPlan("trained", lr_scale=self.cfg.lr_decay ** (top - i))
            for i in range(len(groups) - 1)
        ] + [GroupPlan("trained")]
