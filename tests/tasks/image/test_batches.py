"""Image batches: training batches are augmented and mixed, evaluation batches are not."""

from __future__ import annotations

import torch

from tunelab.tasks.image.batches import ImageBatches
from tunelab.tasks.image.transforms import ImagePreprocessing

PRE = ImagePreprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")


def test_training_batches_are_augmented_evaluation_batches_are_not():
    from tunelab.tasks.image.config import AugmentConfig
    from tunelab.tasks.image.transforms import build_augmentation, build_batch_mix

    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    aug = AugmentConfig(rotation=20, color_jitter=0.3, auto="trivial", mixup=0.4, cutmix=1.0)
    data = ImageBatches(
        images, torch.arange(8) % 4, PRE, build_augmentation(aug, PRE), build_batch_mix(aug, 4)
    )
    first, second = data.collate(range(8)), data.collate(range(8))
    assert first["pixel_values"].shape == (8, 3, 32, 32)
    assert not torch.equal(first["pixel_values"], second["pixel_values"])
    assert first["labels"].shape == (8, 4)  # soft labels from MixUp / CutMix
    assert torch.allclose(first["labels"].sum(-1), torch.ones(8))
    plain = data.without_augmentation()
    assert torch.equal(plain.collate([1, 2])["pixel_values"], plain.collate([1, 2])["pixel_values"])
    assert torch.equal(plain.collate([1])["labels"], torch.tensor([1]))
