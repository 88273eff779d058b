"""Batch sources for the trainer: equal-length series, and forecasting windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tunelab.batching import FixedSizeBatching


@dataclass
class SeriesBatches(FixedSizeBatching):
    """``[N, C, T]`` series with label ids; batches are ``[B, T, C]`` as PatchTST reads."""

    values: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(list(indices))
        return {"past_values": self.values[idx].transpose(1, 2), "labels": self.labels[idx]}


@dataclass
class WindowBatches(FixedSizeBatching):
    """Forecasting windows: context ``[N, L]`` with its observed mask, and ``labels``
    ``[N, horizon + 3]`` (see :meth:`.forecast_data.Windows.targets`)."""

    context: torch.Tensor
    observed: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(list(indices))
        return {
            "past_values": self.context[idx, :, None],
            "past_observed_mask": self.observed[idx, :, None],
            "labels": self.labels[idx],
        }
