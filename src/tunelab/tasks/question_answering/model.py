"""The span model: an HF encoder and a start/end head, as ``AutoModelForQuestionAnswering``.

The head is the one transformers puts on every encoder for extractive QA
(``qa_outputs``: one linear layer from each token's state to a start and an end
logit), so a saved ``model/`` loads with ``AutoModelForQuestionAnswering`` too. The
model extends the text classifier (:class:`~tunelab.tasks.text.model.TextClassifier`)
for what the two share: the backbone's layer groups, LoRA targets and the
frozen-prefix path (``hidden_before`` / ``forward_from``), with token states in place
of a pooled vector. Padding positions get a very low logit, so no span starts there.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tunelab.errors import ModelError
from tunelab.models.registry import resolve_model_path
from tunelab.tasks.question_answering.config import QAModelConfig
from tunelab.tasks.text.model import (
    TextClassifier,
    check_max_length,
    hidden_size,
    load_backbone,
    load_tokenizer,
)

MASKED = -1e4  # logit of a padding position (finite: fp16 / bf16 safe)


class SpanModel(TextClassifier):
    """Encoder + ``qa_outputs``; ``forward`` returns ``[batch, tokens, 2]`` logits.

    Inputs are tokens (the normal path), cached token ``features`` (feature
    extraction: ``[batch, tokens * (hidden + 1)]``, the last channel the mask), or the
    ``hidden_states`` entering ``start_block`` (frozen-prefix cache).
    """

    def __init__(self, backbone: nn.Module, head: SpanHead) -> None:
        super().__init__(backbone, head, pooling="tokens")

    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs
    ) -> torch.Tensor:
        """Each window's token states and mask, flattened to one row (cached features)."""
        hidden = self.token_states(input_ids, attention_mask, **inputs)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return torch.cat([hidden, mask], dim=-1).flatten(1)

    def from_states(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Start/end logits of every token."""
        return self.span_logits(hidden, attention_mask)

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Start/end logits from rows :meth:`encode` made (states and mask unflattened)."""
        states = features.view(features.shape[0], -1, hidden_size(self.backbone) + 1)
        return self.span_logits(states[..., :-1], states[..., -1])

    def span_logits(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``qa_outputs`` on every token; padding positions masked."""
        return self.head(hidden).masked_fill(mask.unsqueeze(-1) == 0, MASKED)


class SpanHead(nn.Module):
    """``qa_outputs``: each token's state -> a start and an end logit.

    The weights are the same as transformers' ``nn.Linear(hidden, 2)`` (saved under its
    names), held as plain parameters: the head maps token states, not the rows cached
    for feature extraction (a window's flattened states), so it must not be taken for a
    linear map of those rows (``tunelab.head_solver`` solves such heads in closed form).
    """

    def __init__(self, hidden: int, std: float = 0.02) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(2, hidden) * std)
        self.bias = nn.Parameter(torch.zeros(2))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:  # noqa: D102 - a plain forward
        return nn.functional.linear(hidden, self.weight, self.bias)


def new_span_head(backbone: nn.Module) -> SpanHead:
    """``qa_outputs`` initialised as transformers initialises it (normal, std from the
    backbone's config, zero bias)."""
    return SpanHead(hidden_size(backbone), getattr(backbone.config, "initializer_range", 0.02))


def check_qa_architecture(backbone: nn.Module, path: Path) -> None:
    """ModelError when transformers has no QA model class for this backbone's type
    (``model/`` is saved as one)."""
    from transformers import AutoModelForQuestionAnswering

    mapping = AutoModelForQuestionAnswering._model_mapping
    if type(backbone.config) not in mapping:
        raise ModelError(
            f"{path}: model type '{backbone.config.model_type}' has no "
            "AutoModelForQuestionAnswering class; use an encoder such as BERT, RoBERTa or "
            "MiniLM"
        )


def build_span_model(cfg: QAModelConfig) -> tuple[SpanModel, object, Path]:
    """Load backbone + tokenizer for ``cfg.name`` and put a fresh span head on top.

    Raises:
        ModelError: no such model, no QA class for its type, or ``max_length`` past its
            position table.
    """
    path = resolve_model_path(cfg.name)
    backbone = load_backbone(path, cfg.pretrained, trust_remote_code=cfg.trust_remote_code)
    check_qa_architecture(backbone, path)
    if "max_length" in cfg.model_fields_set:
        check_max_length(backbone, cfg.max_length, path)
    tokenizer = load_tokenizer(path, trust_remote_code=cfg.trust_remote_code)
    return SpanModel(backbone, new_span_head(backbone)), tokenizer, path
