"""The classification head placed on a pooled backbone output."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


class L2Normalize(nn.Module):
    """Each row scaled to unit length (sentence-transformers' ``Normalize`` module).

    After contrastive training on cosine similarity only the direction of an
    embedding has been trained; its length is whatever the backbone left there, and a
    linear head on raw features would read it as signal.
    """

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # noqa: D102 - see class
        return F.normalize(features, dim=-1)


class ClassificationHead(nn.Module):
    """Optional L2 normalisation, dropout, optional hidden layers, then a linear classifier.

    Hidden layers let a user "modify the architecture" (a deeper head over frozen
    features is often worth a point or two) without touching the backbone.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_sizes: list[int] | tuple[int, ...] = (),
        dropout: float = 0.1,
        activation: str = "gelu",
        normalize: bool = False,
    ) -> None:
        super().__init__()
        # outside ``net``: its weights keep their names with or without it
        self.normalize: nn.Module = L2Normalize() if normalize else nn.Identity()
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    @classmethod
    def from_config(cls, in_features: int, num_classes: int, head: Any) -> ClassificationHead:
        """The head a ``model.head`` section describes (``HeadConfig``; a saved model's
        card holds its ``model_dump()``)."""
        return cls(
            in_features,
            num_classes,
            head.hidden_sizes,
            head.dropout,
            head.activation,
            head.normalize,
        )

    def forward(self, features):  # noqa: D102 - a plain forward
        return self.net(self.normalize(features))
