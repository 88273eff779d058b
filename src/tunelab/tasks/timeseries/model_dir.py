"""The ``model/`` directory of every time-series task (classification, forecasting,
anomaly detection): the backbone's ``config.json``, ``model.safetensors`` (the whole
model, LoRA adapters merged first, so loading needs no adapter code) and
``tunelab_model.json`` with what the task's predictor needs besides the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tunelab.errors import RunDirError
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import merged


def save_series_model(model_dir: Path, model: Any, cfg: Any, fields: dict[str, Any]) -> Path:
    """Write ``model/`` atomically; ``fields`` (labels, context, horizon, ...) go into
    its card after the run's task, base model and strategy."""
    model.backbone = merged(model.backbone)
    card = {
        "task": cfg.task,
        "format": "full",
        "base_model": cfg.model.name,
        "strategy": cfg.strategy.name,
        **fields,
    }

    def fill(tmp: Path) -> None:
        model.backbone.config.save_pretrained(str(tmp))
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)


def load_series_weights(model: torch.nn.Module, model_dir: Path) -> torch.nn.Module:
    """``model`` with the weights of ``model_dir``.

    Raises:
        RunDirError: the saved weights do not fit the model the card describes.
    """
    try:
        model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    except RuntimeError as err:
        raise RunDirError(f"{model_dir}: weights do not match the model ({err})") from None
    return model
