"""Batches of images for the trainer: uint8 in memory, augmented and normalised per batch.

Images are decoded once, at the model's input size, into one uint8 tensor (a few MB for
the demo sets), so an epoch costs no file I/O or JPEG decoding. A training batch gets its
random augmentation when it is collated; evaluation batches are only normalised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch

from tunelab.batching import FixedSizeBatching
from tunelab.tasks.image.transforms import ImagePreprocessing


@dataclass
class ImageBatches(FixedSizeBatching):
    """uint8 ``[N, 3, S, S]`` images with label ids; builds normalised batches.

    Attributes:
        images: decoded images at the model's input size.
        labels: label ids, ``[N]``.
        preprocessing: size, mean and std of the model.
        augment: per-image uint8 transform for training (None: no augmentation).
        mix: MixUp / CutMix over a normalised batch (soft labels), or None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    preprocessing: ImagePreprocessing
    augment: Callable | None = None
    mix: Callable | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """``pixel_values`` (float, normalised) and ``labels`` (ids, or soft with ``mix``)."""
        idx = torch.as_tensor(list(indices))
        images = self.images[idx]
        if self.augment is not None:
            images = torch.stack([self.augment(image) for image in images])
        pixels = self.preprocessing.normalize(images)
        labels = self.labels[idx]
        if self.mix is not None:
            pixels, labels = self.mix(pixels, labels)
        return {"pixel_values": pixels, "labels": labels}

    def without_augmentation(self) -> ImageBatches:
        """The same images, only normalised (evaluation, cached features)."""
        return replace(self, augment=None, mix=None)
