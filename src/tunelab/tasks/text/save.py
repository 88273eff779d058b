"""Save a trained classifier as a self-describing, reloadable ``model/`` directory.

Full weights go to ``model.safetensors`` with the backbone's ``config.json`` and the
tokenizer, so the directory loads without the original checkpoint. An unmerged LoRA
run saves the adapter in peft's format (``adapter/``) plus the head, and records the
base model it needs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from tunelab.config import Config
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import is_lora, merge_requested, merged


def save_model(
    model_dir: Path,
    model: torch.nn.Module,
    tokenizer,
    labels: list[str],
    cfg: Config,
    base_model_path: Path,
) -> Path:
    """Write ``model_dir`` atomically; merge LoRA first when ``strategy.lora.merge``."""
    if merge_requested(cfg.strategy):
        model.backbone = merged(model.backbone)
    lora = is_lora(model.backbone)
    card = {
        "task": cfg.task,
        "labels": labels,
        "format": "lora" if lora else "full",
        "base_model": str(base_model_path),
        "pooling": cfg.model.pooling,
        "max_length": cfg.model.max_length,
        "drop_top_layers": cfg.model.drop_top_layers,
        "head": cfg.model.head.model_dump(),
        "strategy": cfg.strategy.name,
    }

    def fill(tmp: Path) -> None:
        if lora:
            model.backbone.save_pretrained(str(tmp / "adapter"))
            state = {f"head.{k}": v for k, v in model.head.state_dict().items()}
        else:
            model.backbone.config.save_pretrained(str(tmp))
            state = model.state_dict()
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(tmp / "model.safetensors"),
        )
        tokenizer.save_pretrained(str(tmp))
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)
