"""The classification head placed on a pooled backbone output."""

from __future__ import annotations

from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


class ClassificationHead(nn.Module):
    """Dropout, optional hidden layers, then a linear classifier.

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
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        width = in_features
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, features):  # noqa: D102 - a plain forward
        return self.net(features)
