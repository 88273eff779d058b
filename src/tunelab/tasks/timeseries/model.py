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


def window_loc_scale(
    context: torch.Tensor, observed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of each ``[B, L]`` context's observed points
    (``[B, 1]`` each; the scale floored as PatchTST's std scaler floors it)."""
    count = observed.sum(dim=1, keepdim=True).clamp(min=1.0)
    loc = (context * observed).sum(dim=1, keepdim=True) / count
    variance = (((context - loc) * observed) ** 2).sum(dim=1, keepdim=True) / count
    return loc, torch.sqrt(variance + 1e-5)


class SeriesClassifier(nn.Module):
    """Patch embeddings averaged over patches, one vector per channel, concatenated."""

    def __init__(self, backbone: nn.Module, channels: int, classes: int, head: HeadConfig):
        super().__init__()
        self.backbone = backbone
        width = channels * backbone.config.d_model
        self.head = ClassificationHead.from_config(width, classes, head)

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

    Outputs are in the window's standardised units (``(y - loc) / scale`` of its
    context, :func:`window_loc_scale`): the loss is then alike for series of any
    magnitude, and the head is linear in the features, so feature extraction can solve
    it in closed form. Predictors and the objective add ``loc`` and ``scale`` back.
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
        """``[B, context, 1]`` -> ``[B, patches * d_model]``."""
        hidden, _, _ = encoder_output(self.backbone, past_values, past_observed_mask)
        return hidden[:, 0].flatten(1)

    def forward(
        self,
        past_values: torch.Tensor | None = None,
        past_observed_mask: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, horizon]`` forecasts in the window's standardised units."""
        if features is None:
            features = self.encode(past_values, past_observed_mask)
        return self.head(features)

    def lora_target_modules(self) -> list[str]:
        return lora_targets(self.backbone)
