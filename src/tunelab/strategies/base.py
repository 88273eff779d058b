"""The contract every transfer strategy honours, and the registry of strategies.

A strategy decides, for each layer group (bottom to top, head last), whether it trains,
at what learning-rate multiplier, and from which epoch. It may also modify the model
first (LoRA injects adapters). Everything else — the loop, checkpoints, metrics — is
shared, so a strategy is one small class in one file:

* ``prepare(model)``: change the model before groups are built (default: nothing).
* ``plan(groups)``: one :class:`GroupPlan` per group, in order.
* ``callbacks(groups)``: stateful callbacks that change the plan during training.
* ``adjust_train(train_cfg)``: the training settings this strategy needs instead of the
  config's (default: unchanged); the run prints and records every key it changes.
* ``check_task(task, cfg)``: refuse, before anything is written, a task the strategy
  cannot train (default: any task will do).
* ``before_training(phase)``: a phase of the strategy's own before the main training,
  e.g. contrastive training of the backbone on pairs (default: none); its record goes
  to ``metrics.json`` ("strategy_phase") and marks the groups it trained in
  ``layers.json``.
* ``model_defaults``: keys of the ``model`` section the strategy sets where the config
  leaves them unset, each with its reason (contrastive normalises the head's input);
  :func:`with_model_defaults` fills them in before the model is built.
* ``config_class``: its ``strategy`` config section (a key it does not read is an
  error), and ``search_space()``: the keys of that section a search varies by default.

Invariant (tested per strategy): after one optimizer step, exactly the parameters of
the groups planned as trained (or LoRA's adapters) have changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from rich.console import Console
from torch import nn

from tunelab.config import Config, StrategyConfig, TrainConfig
from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup

GroupState = Literal["frozen", "trained", "lora"]


@dataclass
class GroupPlan:
    """What a strategy does to one layer group."""

    state: GroupState
    lr_scale: float = 1.0
    unfreeze_epoch: int | None = None
    unfreeze_step: int | None = None  # set when the schedule counts optimizer steps

    @property
    def ever_trains(self) -> bool:
        """Whether the group receives gradients at some point of the run."""
        return self.state != "frozen" or self.unfreeze_epoch is not None


@dataclass
class PhaseInputs:
    """What a strategy's own phase before the main training gets (``before_training``).

    Attributes:
        task: the run's :class:`tunelab.tasks.Task` (its hooks, e.g. ``embedding``).
        train: the task's training batch source (``collate(indices)``, ``labels``).
        device: where the phase runs (the model is moved there first).
    """

    task: Any
    cfg: Config
    model: nn.Module
    groups: list[LayerGroup]
    train: Any
    device: torch.device
    console: Console


class Strategy:
    """Base class; subclasses set ``name`` and ``config_class`` and override ``plan``."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    uses_feature_cache: ClassVar[bool] = False
    # dotted key under ``model`` -> (value, why), for keys the config leaves unset
    model_defaults: ClassVar[dict[str, tuple[Any, str]]] = {}

    def __init__(self, cfg: StrategyConfig) -> None:
        self.cfg = cfg

    def prepare(self, model: nn.Module) -> None:
        """Modify the model before its layer groups are built (default: no change)."""

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        """One plan per group, bottom to top, head last."""
        raise NotImplementedError

    def callbacks(self, groups: list[LayerGroup], plans: list[GroupPlan]) -> list:
        """Callbacks that change trainability during training (default: none)."""
        return []

    def adjust_train(self, train_cfg: TrainConfig) -> TrainConfig:
        """The training settings to run with (default: ``train_cfg`` unchanged).

        Return a copy, never modify ``train_cfg``: the run directory's ``config.yaml``
        keeps what the user asked for, and the run records each changed key.
        """
        return train_cfg

    def check_task(self, task: Any, cfg: Config) -> None:
        """Raise ConfigError when ``task`` cannot be trained this way (default: it can)."""

    def before_training(self, phase: PhaseInputs) -> dict[str, Any] | None:
        """Run the strategy's own phase before the main training (default: none).

        Returns:
            None, or the phase's record: ``name``, ``groups`` (the layer groups it
            trained), ``lr``, ``seconds`` and what else it measured.
        """
        return None

    @classmethod
    def search_space(cls) -> dict[str, dict[str, Any]]:
        """Default search ranges for this strategy's own keys (default: none)."""
        return {}


_STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its ``name``."""
    _STRATEGIES[cls.name] = cls
    return cls


def create_strategy(cfg: StrategyConfig) -> Strategy:
    """Instantiate the registered strategy named in ``cfg.name``."""
    return strategy_class(cfg.name)(cfg)


def strategy_names() -> list[str]:
    """Registered strategy names."""
    return sorted(_STRATEGIES)


def strategy_class(name: str) -> type[Strategy]:
    """The registered strategy class called ``name``."""
    if name not in _STRATEGIES:
        raise ConfigError(
            f"strategy.name '{name}' is unknown; choose one of {', '.join(sorted(_STRATEGIES))}"
        )
    return _STRATEGIES[name]


def strategy_config_class(name: str) -> type[StrategyConfig]:
    """The ``strategy`` section class of strategy ``name``."""
    return strategy_class(name).config_class


def strategy_config(name: str, **settings: Any) -> StrategyConfig:
    """A validated ``strategy`` section: ``strategy_config("top_k", k=1)``."""
    return strategy_config_class(name)(name=name, **settings)


def with_model_defaults(cfg: Config) -> Config:
    """``cfg`` with its strategy's ``model_defaults`` filled in: each where the config
    left the key unset and the task's model section has it (a run records them in
    ``config.yaml``, and its saved model is built with them)."""
    model = cfg.model
    for key, (value, _) in strategy_class(cfg.strategy.name).model_defaults.items():
        model = _preset(model, key.split("."), value)
    return cfg if model is cfg.model else cfg.model_copy(update={"model": model})


def _preset(section: Any, path: list[str], value: Any) -> Any:
    name = path[0]
    if name not in type(section).model_fields:
        return section
    if len(path) > 1:
        inner = _preset(getattr(section, name), path[1:], value)
        same = inner is getattr(section, name)
        return section if same else section.model_copy(update={name: inner})
    return section if name in section.model_fields_set else section.model_copy(update={name: value})


def model_default_decisions(strategy: Strategy, cfg: Config) -> dict[str, dict]:
    """The ``model`` keys that hold the strategy's default, as run decisions."""
    decisions = {}
    for key, (value, why) in strategy.model_defaults.items():
        section: Any = cfg.model
        for name in key.split("."):
            section = getattr(section, name, None)
        if section == value:
            reason = f"strategy {strategy.name}: {why}"
            decisions[f"model.{key}"] = {"value": value, "reason": reason}
    return decisions


def apply_strategy(
    model: nn.Module, cfg: StrategyConfig
) -> tuple[Strategy, list[LayerGroup], list[GroupPlan]]:
    """Create the strategy, let it modify ``model``, cut the groups, plan and freeze.

    The one sequence every caller (a run, a test, a benchmark) needs before training.
    """
    from tunelab.layers import model_layer_groups

    strategy = create_strategy(cfg)
    strategy.prepare(model)
    groups = model_layer_groups(model)
    plans = strategy.plan(groups)
    apply_plan(groups, plans)
    return strategy, groups, plans


def apply_plan(groups: list[LayerGroup], plans: list[GroupPlan]) -> None:
    """Set ``requires_grad`` from the plans (LoRA groups are handled by peft)."""
    for group, plan in zip(groups, plans, strict=True):
        if plan.state != "lora":
            group.set_trainable(plan.state == "trained")
