"""Transfer strategies, one small registered class each."""

from tunelab.strategies import (  # noqa: F401
    auto,
    contrastive,
    discriminative_lr,
    gradual_unfreeze,
    layers,
    lora,
    simple,
)
from tunelab.strategies.base import (
    GroupPlan,
    PhaseInputs,
    Strategy,
    apply_plan,
    apply_strategy,
    create_strategy,
    model_default_decisions,
    register_strategy,
    strategy_class,
    strategy_config,
    strategy_config_class,
    strategy_names,
    with_model_defaults,
)

__all__ = [
    "GroupPlan",
    "PhaseInputs",
    "Strategy",
    "apply_plan",
    "apply_strategy",
    "create_strategy",
    "model_default_decisions",
    "register_strategy",
    "strategy_class",
    "strategy_config",
    "strategy_config_class",
    "strategy_names",
    "with_model_defaults",
]
