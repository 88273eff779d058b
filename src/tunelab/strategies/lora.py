"""LoRA (peft): low-rank adapters on the attention projections, head trained fully."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from torch import nn

from tunelab.config import StrategyConfig, _Section
from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy

# Architectures peft's own table misses.
_EXTRA_TARGETS = {"distilbert": ["q_lin", "v_lin"]}


def default_target_modules(model_type: str) -> list[str] | None:
    """peft's attention projections for ``model_type``, or None if unknown."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as known

    targets = known.get(model_type) or _EXTRA_TARGETS.get(model_type)
    return list(targets) if targets else None


class LoraSettings(_Section):
    """peft LoRA hyper-parameters; target modules are found per architecture when unset."""

    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None
    merge: bool = False
    # Adapters start at zero and are low-rank: they need a larger step than full
    # fine-tuning (LoRA practice: ~10x). Scales train.lr for the adapter groups.
    lr_scale: float = Field(10.0, gt=0.0)


class LoraConfig(StrategyConfig):
    """``lora``: the adapter settings."""

    name: Literal["lora"] = "lora"
    lora: LoraSettings = Field(default_factory=LoraSettings)


@register_strategy
class Lora(Strategy):
    """Wraps the backbone in a peft ``PeftModel`` whose only trainable weights are LoRA's.

    The head is a new layer, so it trains fully; adapters train at
    ``train.lr * strategy.lora.lr_scale``. On save, the adapter is written in
    peft's own format (``PeftModel.from_pretrained`` can read it) unless
    ``strategy.lora.merge`` folds it into the backbone weights.
    """

    name = "lora"
    config_class = LoraConfig

    def prepare(self, model: nn.Module) -> None:
        own_targets = getattr(model, "lora_target_modules", None)
        model.backbone = wrap_with_lora(
            model.backbone, self.cfg.lora, own_targets() if own_targets else None
        )

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        scale = self.cfg.lora.lr_scale
        plans = [
            GroupPlan("lora", lr_scale=scale) if group.num_trainable else GroupPlan("frozen")
            for group in groups[:-1]
        ]
        return plans + [GroupPlan("trained")]

    @classmethod
    def search_space(cls) -> dict[str, dict[str, Any]]:
        return {"strategy.lora.r": {"choice": [4, 8, 16]}}


def wrap_with_lora(
    backbone: nn.Module, settings, default_targets: list[str] | None = None
) -> nn.Module:
    """Inject LoRA adapters into ``backbone`` (freezing everything else).

    Targets: ``strategy.lora.target_modules``, else the classifier's own default (a CNN's
    1x1 convolutions), else peft's attention projections for the model type.
    """
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    model_type = getattr(getattr(backbone, "config", None), "model_type", "")
    targets = settings.target_modules or default_targets or default_target_modules(model_type)
    if not targets:
        raise ConfigError(
            f"strategy.lora.target_modules: no default for model type '{model_type}'; "
            "set it to the attention projection names, e.g. [q_proj, v_proj]"
        )
    config = PeftLoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
    )
    try:
        with peft_quietly():
            return get_peft_model(backbone, config)
    except ValueError as err:
        raise ConfigError(f"strategy.lora.target_modules={targets}: {err}") from None


def merge_requested(cfg: StrategyConfig) -> bool:
    """Whether the run's ``strategy.lora.merge`` asks to fold the adapters in on save."""
    return isinstance(cfg, LoraConfig) and cfg.lora.merge


def is_lora(backbone: nn.Module) -> bool:
    """Whether ``backbone`` is wrapped by peft (adapters not merged yet)."""
    return hasattr(backbone, "peft_config")


def merged(backbone: nn.Module) -> nn.Module:
    """``backbone`` with its LoRA adapters folded into the base weights; others as they are."""
    return backbone.merge_and_unload() if is_lora(backbone) else backbone


def load_adapter(backbone: nn.Module, adapter_dir: Path) -> nn.Module:
    """``backbone`` with the LoRA adapter saved in ``adapter_dir`` (peft's format)."""
    from peft import PeftModel

    with peft_quietly():
        return PeftModel.from_pretrained(backbone, str(adapter_dir))


@contextlib.contextmanager
def peft_quietly() -> Iterator[None]:
    """peft probes ``is_gradient_checkpointing``, which transformers 5 deprecates: a
    FutureWarning about library internals that users can do nothing about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
        yield
