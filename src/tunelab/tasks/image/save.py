"""The ``model/`` directory of an image run (see :mod:`tunelab.tasks.image`)."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save_file

from tunelab.config import Config
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import is_lora, merge_requested, merged
from tunelab.tasks.base import BuiltModel


def save_image_model(
    model_dir: Path,
    model,
    built: BuiltModel,
    labels: list[str],
    cfg: Config,
    card_fields: dict | None = None,
) -> Path:
    """Write ``model_dir`` atomically; merge LoRA first when ``strategy.lora.merge``.

    ``card_fields``: what the model card adds (a multi-label or regression model's
    problem type, thresholds or target scaling), so a loaded model predicts as trained.
    """
    from tunelab.tasks.image.model import architecture

    # A LoRA adapter is reloaded onto its base weights; a random base (model.pretrained:
    # false) cannot be rebuilt, so then the adapter is merged and the whole model saved.
    if merge_requested(cfg.strategy) or built.source is None:
        model.backbone = merged(model.backbone)
    lora = is_lora(model.backbone)
    card = {
        "task": "image_classification",
        "labels": labels,
        "format": "lora" if lora else "full",
        "model": cfg.model.name,
        "architecture": architecture(cfg.model.name),
        "weights": cfg.model.weights,
        "base_weights": str(built.source) if built.source else None,
        "preprocessing": built.processor.to_dict(),
        "head": cfg.model.head.model_dump(),
        "freeze_bn": cfg.model.freeze_bn,
        "strategy": cfg.strategy.name,
        **(card_fields or {}),
    }

    def fill(tmp: Path) -> None:
        state = model.state_dict()
        if lora:
            model.backbone.save_pretrained(str(tmp / "adapter"))
            buffers = {f"backbone.{n}" for n, _ in model.backbone.named_buffers()}
            state = {k: v for k, v in state.items() if k.startswith("head.") or k in buffers}
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(tmp / "model.safetensors"),
        )
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)
