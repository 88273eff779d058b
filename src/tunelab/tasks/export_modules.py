"""Task models wrapped for ONNX export (:class:`~tunelab.tasks.base.ExportSignature`).

The exporter passes a sample batch as keyword arguments and names the graph's inputs
after them, so each wrapper's ``forward`` spells out the inputs its task feeds the model
and returns float32 outputs (a bf16 or fp16 model still exports float logits).
"""

from __future__ import annotations

import torch


class ExportModule(torch.nn.Module):
    """Holds the model; a subclass's ``forward`` names the exported inputs."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model


class TokenLogits(ExportModule):
    """Token ids and mask (and token types) -> logits, for every tokenized-text task."""

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask, **extra)
        return self.arrange(logits.float())

    def arrange(self, logits: torch.Tensor) -> torch.Tensor:
        """The logits as the export gives them; a task whose outputs are laid out
        otherwise (QA's start / end pair) overrides this, not ``forward``."""
        return logits
