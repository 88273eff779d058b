"""Optimizer parameter groups with ``lr_scale``, and schedules as pure functions.

Discriminative learning rates are data (each group's LR), not a special loop: the
scheduler multiplies every group's own base LR by the same factor, so layer-wise
scales survive warmup and decay (timm's ``param_groups_layer_decay`` idea).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from tunelab.config import TrainConfig
from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan


def lr_multiplier(
    step: int, total_steps: int, warmup_steps: int, kind: str, warmup_from_zero: bool = False
) -> float:
    """Factor applied to every base LR at optimizer step ``step`` (0-based).

    Linear warmup from 0 to 1 over ``warmup_steps``, then ``linear`` decay to 0,
    half-``cosine`` decay to 0, or ``constant``. Pure, so it can be plotted and tested.
    Warmup steps run at ``(step + 1) / warmup_steps``, so no step is wasted; with
    ``warmup_from_zero`` at ``step / warmup_steps``, HF Trainer's schedule, whose first
    step only seeds Adam's moment estimates (for code that reproduces a Trainer run).
    """
    if step < warmup_steps:
        return (step + (0 if warmup_from_zero else 1)) / warmup_steps
    if kind == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    if kind == "linear":
        return 1.0 - progress
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {kind!r}")


def warmup_steps_for(cfg: TrainConfig, total_steps: int) -> int:
    """Explicit ``warmup_steps`` wins over ``warmup_ratio`` (as in HF Trainer)."""
    if cfg.warmup_steps is not None:
        return min(cfg.warmup_steps, total_steps)
    return int(cfg.warmup_ratio * total_steps)


def no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Biases and normalisation weights are not decayed (they are scales, not features)."""
    return param.ndim <= 1 or name.endswith(".bias")


def split_by_decay(
    params: list[nn.Parameter], names: dict[int, str]
) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``params`` as (decayed, not decayed) by :func:`no_weight_decay`; ``names`` maps
    ``id(param)`` to its name in the model."""
    plain = {id(p) for p in params if no_weight_decay(names[id(p)], p)}
    return [p for p in params if id(p) not in plain], [p for p in params if id(p) in plain]


def build_param_groups(
    model: nn.Module, groups: list[LayerGroup], plans: list[GroupPlan], cfg: TrainConfig
) -> list[dict]:
    """One optimizer group per (layer group, decay or not), each with its own LR.

    Groups that never train are left out; groups that train later (gradual unfreezing)
    are included from the start with no gradient yet, which optimizers skip. In a LoRA
    group only the adapter weights (already marked trainable by peft) are included.
    """
    names = {id(p): n for n, p in model.named_parameters()}
    param_groups: list[dict] = []
    for i, (group, plan) in enumerate(zip(groups, plans, strict=True)):
        if not plan.ever_trains:
            continue
        base_lr = (cfg.head_lr if i == len(groups) - 1 else cfg.lr) * plan.lr_scale
        params = [p for p in group.params if plan.state != "lora" or p.requires_grad]
        for chosen, decay in zip(split_by_decay(params, names), (True, False), strict=True):
            if chosen:
                param_groups.append(
                    {
                        "params": chosen,
                        "lr": base_lr,
                        "lr_scale": plan.lr_scale,
                        "group": group.name,
                        "weight_decay": cfg.weight_decay if decay else 0.0,
                    }
                )
    return param_groups


# Adafactor as HF Trainer's ``optim="adafactor"``: an external LR (ours, with its
# schedule and per-group scales) instead of Adafactor's own relative step size.
ADAFACTOR_DEFAULTS = {"scale_parameter": False, "relative_step": False, "warmup_init": False}
SHORT_NAMES = ("adamw", "sgd", "adafactor")
OWN_KEYS = {"lr": "train.lr / train.head_lr", "weight_decay": "train.weight_decay"}


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """The optimizer ``train.optimizer`` names: ``adamw``, ``sgd``, ``adafactor``
    (transformers), or a ``torch.optim`` class by name (``torch.optim.RAdam`` or ``RAdam``).

    Raises:
        ConfigError: any other name (one line listing the choices).
    """
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor
    short = {"adamw": "AdamW", "sgd": "SGD"}.get(name, name.removeprefix("torch.optim."))
    found = getattr(torch.optim, short, None)
    usable = isinstance(found, type) and issubclass(found, torch.optim.Optimizer)
    if usable and "." not in short and short != "Optimizer":
        return found
    classes = sorted(
        n for n, c in vars(torch.optim).items()
        if isinstance(c, type) and issubclass(c, torch.optim.Optimizer) and n != "Optimizer"
    )  # fmt: skip
    raise ConfigError(
        f"train.optimizer '{name}' is not an optimizer tunelab knows; use "
        f"{', '.join(SHORT_NAMES)} or a torch.optim class by name "
        f"(torch.optim.{', torch.optim.'.join(classes)})"
    )


def optimizer_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Constructor arguments besides the parameter groups: the class's defaults that keep
    our LR in charge, ``momentum`` for SGD, then ``train.optimizer_kwargs``.

    Raises:
        ConfigError: ``optimizer_kwargs`` sets what a ``train`` key already sets.
    """
    clash = sorted(set(cfg.optimizer_kwargs) & set(OWN_KEYS))
    if clash:
        raise ConfigError(
            f"train.optimizer_kwargs.{clash[0]}: set {OWN_KEYS[clash[0]]} instead "
            "(param groups carry their own values)"
        )
    defaults: dict[str, Any] = {}
    if cfg.optimizer == "adafactor":
        defaults = dict(ADAFACTOR_DEFAULTS)
    elif cfg.optimizer == "sgd":
        defaults = {"momentum": cfg.momentum}
    return {**defaults, **cfg.optimizer_kwargs}


def build_optimizer(param_groups: list[dict], cfg: TrainConfig) -> torch.optim.Optimizer:
    """``train.optimizer`` over the prepared groups, each keeping its own LR and decay.

    AdamW (the default) uses the fused kernel (one pass over all parameters, as HF
    Trainer's default ``adamw_torch_fused``): on CPU it is ~5x faster than the
    per-parameter loop, which matters when every parameter trains.

    Raises:
        ConfigError: an unknown optimizer, or arguments its constructor refuses.
    """
    cls, kwargs = optimizer_class(cfg.optimizer), optimizer_kwargs(cfg)
    if cfg.optimizer == "adamw" and "fused" not in kwargs:
        floating = all(p.is_floating_point() for g in param_groups for p in g["params"])
        kwargs["fused"] = floating or None
    try:
        return cls(param_groups, lr=cfg.lr, **kwargs)
    except (TypeError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(
            f"train.optimizer_kwargs {cfg.optimizer_kwargs}: {cls.__name__} refused them "
            f"({reason}); see torch.optim / transformers docs for its arguments"
        ) from None


def check_optimizer(cfg: TrainConfig) -> None:
    """Build the optimizer over two stand-in groups, so a bad name or argument is a
    ConfigError before a run writes anything."""
    if cfg.optimizer in ("adamw", "sgd") and not cfg.optimizer_kwargs:
        return
    groups = [
        {"params": [torch.nn.Parameter(torch.zeros(2, 2))], "lr": cfg.lr, "weight_decay": 0.0},
        {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": cfg.head_lr},
    ]
    build_optimizer(groups, cfg)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR over :func:`lr_multiplier`; each group keeps its own base LR."""
    warmup = warmup_steps_for(cfg, total_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total_steps, warmup, cfg.scheduler)
    )
