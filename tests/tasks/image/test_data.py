"""prepare_image_data: a folder of scans becomes RGB splits; splits are seeded, stratified
and deduplicated."""

from __future__ import annotations

import torch

from tests.conftest import IMAGE_PRE, image_cfg, write_scans
from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.data import prepare_image_data


def test_folder_of_grayscale_scans_becomes_rgb_splits(tmp_path):
    root = write_scans(tmp_path / "scans")
    (root / "lesion" / "notes.txt").write_text("not an image, ignored")
    splits = prepare_image_data(image_cfg(str(root)), IMAGE_PRE, seed=0)
    assert splits.labels == ["lesion", "normal"]
    assert sum(len(s) for s in (splits.train, splits.validation, splits.test)) == 24
    images = splits.train.images
    assert images.dtype == torch.uint8 and tuple(images.shape[1:]) == (3, 24, 24)
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    summary = splits.summary
    assert summary["splits"]["train"]["grayscale"] == len(splits.train)
    assert summary["splits"]["train"]["original_size"]["width"]["max"] == 40
    assert summary["preprocessing"]["size"] == 24


def test_splits_are_stratified_seeded_and_deduplicated():
    cfg = ImageDataConfig(
        train="builtin:digits", max_per_class=20, val_fraction=0.1, test_fraction=0.2
    )
    first = prepare_image_data(cfg, IMAGE_PRE, seed=3)
    again = prepare_image_data(cfg, IMAGE_PRE, seed=3)
    assert first.train.names == again.train.names
    assert set(first.summary["splits"]["test"]["class_counts"].values()) == {4}
    assert first.summary["duplicates_across_splits"]["train-test"] == 0
    other = prepare_image_data(cfg, IMAGE_PRE, seed=4)
    assert other.train.names != first.train.names
