"""The causal LM as the trainer sees it: ``forward(**batch)`` returns the logits.

The HF model is the ``backbone`` (strategies such as LoRA wrap it there); its layer
groups come from :func:`~tunelab.tasks.causal_lm.model.decoder_layer_groups`, the
output side (final norm + lm_head) last, as every tunelab model's head.
"""

from __future__ import annotations

import torch
from torch import nn

from tunelab.layers import LayerGroup
from tunelab.strategies.lora import is_lora
from tunelab.tasks.causal_lm.model import decoder_layer_groups, lora_targets


class CausalLM(nn.Module):
    """An HF ``AutoModelForCausalLM`` whose forward returns only the logits."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    @property
    def hf_model(self) -> nn.Module:
        """The transformers model (inside a peft wrapper when LoRA is applied)."""
        return self.backbone.get_base_model() if is_lora(self.backbone) else self.backbone

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        extra = {"position_ids": position_ids} if position_ids is not None else {}
        return self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra).logits

    def layer_groups(self) -> list[LayerGroup]:
        """Embeddings, one group per decoder block, then the output side."""
        return decoder_layer_groups(self.hf_model)

    def lora_target_modules(self) -> list[str]:
        """Every linear layer of the blocks (see ``DEFAULT_LORA_TARGETS``)."""
        return lora_targets(self.hf_model)
