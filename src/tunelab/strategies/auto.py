"""``strategy.name: auto``: a name, not a strategy; the run resolves it first.

``tunelab.auto_strategy`` runs a cheap probe (feature extraction on cached features),
then picks a registered strategy from the data size, the classes, their imbalance and
the probe's validation score, and runs that. This class exists so the config accepts
``auto`` and refuses keys no strategy would read; it is never applied to a model.
"""

from __future__ import annotations

from typing import Literal

from tunelab.config import StrategyConfig
from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy


class AutoConfig(StrategyConfig):
    """No settings of its own: the chosen strategy's are its defaults."""

    name: Literal["auto"] = "auto"


@register_strategy
class Auto(Strategy):
    """Placeholder resolved by :func:`tunelab.auto_strategy.run_auto_strategy`."""

    name = "auto"
    config_class = AutoConfig

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        raise ConfigError(
            "strategy.name=auto is resolved by tunelab.fine_tune; apply a concrete strategy"
        )
