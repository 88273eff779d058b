"""Strategies that are a fixed freeze pattern: feature extraction, top-k, full."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.config import StrategyConfig, TrainConfig
from tunelab.errors import ConfigError
from tunelab.head_solver import HeadPenalties, linear_head
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy


class FrozenPrefixConfig(StrategyConfig):
    """Strategies that freeze the bottom of the backbone can cache its output.

    ``prefix_cache``: run the frozen bottom once per example and train the top on its
    cached output (auto: on when the backbone supports it).
    """

    prefix_cache: Literal["auto", "on", "off"] = "auto"
    prefix_cache_dtype: Literal["float32", "bfloat16", "float16"] = "float32"


class TopKConfig(FrozenPrefixConfig):
    """``k``: how many backbone groups from the top train."""

    name: Literal["top_k"] = "top_k"
    k: int = Field(2, ge=1)


# An epoch of a head on cached features is a pass over a small tensor, so the head
# trains until validation stops improving, not for the few epochs a full fine-tune
# affords; the patience outlasts the noise of a small validation split.
HEAD_EPOCHS = 100
HEAD_PATIENCE = 10


class FeatureExtractionConfig(StrategyConfig):
    """The head trains on cached features, to convergence.

    ``head_solver``: ``lbfgs`` solves a linear head full-batch to convergence, its weight
    decay chosen on validation (``tunelab.head_solver``); ``adamw`` trains it with the
    trainer for ``head_epochs``; ``auto`` (default) is ``lbfgs`` when the head is one
    linear layer, else ``adamw``.
    ``head_epochs``: the epochs an ``adamw`` head trains for, replacing ``train.epochs``
    (early stopping, with a patience of at least 10 evaluations, usually ends it sooner).
    """

    name: Literal["feature_extraction"] = "feature_extraction"
    head_solver: Literal["auto", "lbfgs", "adamw"] = "auto"
    head_epochs: int = Field(HEAD_EPOCHS, ge=1)


class FullConfig(StrategyConfig):
    """No settings of its own: every parameter trains."""

    name: Literal["full"] = "full"


def _head_only(groups: list[LayerGroup]) -> list[GroupPlan]:
    return [GroupPlan("frozen") for _ in groups[:-1]] + [GroupPlan("trained")]


@register_strategy
class FeatureExtraction(Strategy):
    """Backbone frozen, new head trained on embeddings computed once and cached.

    The cheapest strategy, and the baseline every other one must beat: if a linear
    probe on frozen features is as good, fine-tuning is not worth its cost.
    """

    name = "feature_extraction"
    config_class = FeatureExtractionConfig
    uses_feature_cache = True
    # The head group whose one linear layer the run solves with L-BFGS instead of
    # training it (set by plan).
    head_to_solve: LayerGroup | None = None

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        if self.cfg.head_solver != "adamw":
            self.head_to_solve = groups[-1] if linear_head(groups[-1]) else None
            if self.head_to_solve is None and self.cfg.head_solver == "lbfgs":
                raise ConfigError(
                    "strategy.head_solver=lbfgs needs a head that is one linear layer; "
                    "this head has hidden layers: use strategy.head_solver=adamw"
                )
        return _head_only(groups)

    def head_penalties(self, train_examples: int) -> HeadPenalties:
        """The solved head's weight decays: every one of the solver's path, the best on
        validation kept (as ``LogisticRegressionCV`` chooses C)."""
        return HeadPenalties()

    def adjust_train(self, train_cfg: TrainConfig) -> TrainConfig:
        """``strategy.head_epochs`` epochs, early-stopping patience at least 10 (a solved
        head keeps ``train_cfg``: it takes no epochs)."""
        if self.head_to_solve is not None:
            return train_cfg
        stopping = train_cfg.early_stopping
        patience = max(stopping.patience, HEAD_PATIENCE)
        return train_cfg.model_copy(
            update={
                "epochs": self.cfg.head_epochs,
                "early_stopping": stopping.model_copy(update={"patience": patience}),
            }
        )


@register_strategy
class TopK(Strategy):
    """The last ``k`` backbone groups and the head train; everything below is frozen."""

    name = "top_k"
    config_class = TopKConfig

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

    @classmethod
    def search_space(cls) -> dict[str, dict]:
        return {"strategy.k": {"int": [1, 4]}}


@register_strategy
class Full(Strategy):
    """Every parameter trains (the HF Trainer default)."""

    name = "full"
    config_class = FullConfig

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        return [GroupPlan("trained") for _ in groups]
