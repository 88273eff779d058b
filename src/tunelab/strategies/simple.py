"""Strategies that are a fixed freeze pattern: feature extraction, top-k, full."""

from __future__ import annotations

from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy


def _head_only(groups: list[LayerGroup]) -> list[GroupPlan]:
    return [GroupPlan("frozen") for _ in groups[:-1]] + [GroupPlan("trained")]


@register_strategy
class FeatureExtraction(Strategy):
    """Backbone frozen, new head trained on embeddings computed once and cached.

    The cheapest strategy, and the baseline every other one must beat: if a linear
    probe on frozen features is as good, fine-tuning is not worth its cost.
    """

    name = "feature_extraction"
    uses_feature_cache = True

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        return _head_only(groups)


@register_strategy
class TopK(Strategy):
    """The last ``k`` backbone groups and the head train; everything below is frozen."""

    name = "top_k"

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        backbone = len(groups) - 1
        if self.cfg.k > backbone:
            raise ConfigError(
                f"strategy.k={self.cfg.k} but the backbone has {backbone} layer groups; "
                f"use k <= {backbone} (or strategy.name: full)"
            )
        first_trained = backbone - self.cfg.k
        return [
            GroupPlan("trained" if i >= first_trained else "frozen") for i in range(backbone)
        ] + [GroupPlan("trained")]


@register_strategy
class Full(Strategy):
    """Every parameter trains (the HF Trainer default)."""

    name = "full"

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        return [GroupPlan("trained") for _ in groups]
