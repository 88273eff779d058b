"""The ``model/`` directory of a causal-LM run: an HF directory plain transformers loads.

Full weights: ``config.json`` + ``model.safetensors`` + tokenizer, for
``AutoModelForCausalLM.from_pretrained(model/)``. LoRA (unless ``strategy.lora.merge``):
peft's ``adapter_config.json`` + ``adapter_model.safetensors`` naming the base model's
directory, which ``AutoModelForCausalLM.from_pretrained(model/)`` also loads when peft
is installed. ``tunelab_model.json`` records what ``tunelab.load`` needs.
"""

from __future__ import annotations

from pathlib import Path

from tunelab.config import Config
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import is_lora, merge_requested, merged
from tunelab.tasks.causal_lm.module import CausalLM


def save_causal_lm(
    model_dir: Path, model: CausalLM, tokenizer, cfg: Config, source: Path | None
) -> Path:
    """Write ``model_dir`` atomically (a random base cannot be rebuilt: merged then)."""
    if merge_requested(cfg.strategy) or source is None:
        model.backbone = merged(model.backbone)
    lora = is_lora(model.backbone)
    card = {
        "task": cfg.task,
        "format": "lora" if lora else "full",
        "base_model": str(source) if source else None,
        "max_length": cfg.model.max_length,
        "max_new_tokens": cfg.train.max_new_tokens,
        "strategy": cfg.strategy.name,
    }

    def fill(tmp: Path) -> None:
        model.backbone.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)
