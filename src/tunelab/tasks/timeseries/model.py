"""The two models: a backbone with a classification head, and with a forecasting head.

The backbone is channel-independent (every channel goes through the same encoder), and
each window is standardised by the backbone's own scaler, so one backbone serves series
of any scale and channel count.
"""

from __future__ import annotations

import torch
from torch import nn

from tunelab.models.head import ClassificationHead
from tunelab.tasks.classification import HeadConfig
from tunelab.tasks.timeseries.backbone import encoder_output, lora_targets


class SeriesClassifier(nn.Module):
    """Patch embeddings averaged over patches, one vector per channel, concatenated."""

    def __init__(self, backbone: nn.Module, channels: int, classes: int, head: HeadConfig):
        super().__init__()
        self.backbone = backbone
        width = channels * backbone.config.d_model
        self.head = ClassificationHead(
            width, classes, head.hidden_sizes, head.dropout, head.activation
        )

    def encode(self, past_values: torch.Tensor) -> torch.Tensor:
        """``[B, length, channels]`` -> ``[B, channels * d_model]``."""
        hidden, _, _ = encoder_output(self.backbone, past_values)
        return hidden.mean(dim=2).flatten(1)

    def forward(
        self, past_values: torch.Tensor | None = None, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class logits from series, or from cached pooled ``features``."""
        return self.head(self.encode(past_values) if features is None else features)

    def lora_target_modules(self) -> list[str]:
        return lora_targets(self.backbone)


class SeriesForecaster(nn.Module):
    """A linear head from every patch embedding to the next ``horizon`` points.

    The head works in the backbone's scaled units; the window's mean and scale are
    added back, so outputs are in the series' own units. Cached features carry them as
    their last two columns.
    """

    def __init__(self, backbone: nn.Module, context: int, horizon: int, dropout: float = 0.1):
        super().__init__()
        self.backbone = backbone
        self.horizon = horizon
        width = self._width(context)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, horizon))

    def _width(self, context: int) -> int:
        """Patches x d_model of one channel, from a forward pass on zeros."""
        training = self.backbone.training
        self.backbone.eval()  # BatchNorm statistics stay untouched
        with torch.no_grad():
            hidden, _, _ = encoder_output(self.backbone, torch.zeros(1, context, 1))
        self.backbone.train(training)
        return hidden[:, 0].flatten(1).shape[1]

    def encode(
        self, past_values: torch.Tensor, past_observed_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[B, context, 1]`` -> ``[B, patches * d_model + 2]`` (features, loc, scale)."""
        hidden, loc, scale = encoder_output(self.backbone, past_values, past_observed_mask)
        return torch.cat([hidden[:, 0].flatten(1), loc[:, :, 0], scale[:, :, 0]], dim=1)

    def forward(
        self,
        past_values: torch.Tensor | None = None,
        past_observed_mask: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, horizon]`` forecasts in the series' units."""
        if features is None:
            features = self.encode(past_values, past_observed_mask)
        loc, scale = features[:, -2:-1], features[:, -1:]
        return self.head(features[:, :-2]) * scale + loc

    def lora_target_modules(self) -> list[str]:
        return lora_targets(self.backbone)
