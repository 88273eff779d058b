"""Forgetting measured on an ImageNet CNN's own task: top-1 agreement of its classifier."""

from __future__ import annotations

import pytest
import timm
import torch
from safetensors.torch import save_file

import tunelab
from tests.conftest import TINY_CNN
from tunelab.config import validate_config
from tunelab.tasks.image.old_task import old_task_score, reference_photos


@pytest.fixture()
def imagenet_weights(tmp_path):
    """A tiny timm CNN's weights with a 1000-class classifier, as ImageNet files ship."""
    torch.manual_seed(0)
    path = tmp_path / "tiny-imagenet.safetensors"
    save_file(timm.create_model(TINY_CNN, num_classes=1000).state_dict(), str(path))
    return path


def _config(weights, strategy: str, lr: float) -> dict:
    return {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "weights": str(weights), "image_size": 32},
        "data": {"train": "builtin:digits", "max_per_class": 10, "test_fraction": 0.2},
        "strategy": {"name": strategy},
        "train": {"max_steps": 3, "batch_size": 16, "lr": lr, "seed": 0, "device": "cpu"},
    }


def test_reference_photos_are_rgb_views():
    photos = reference_photos(20)
    if not photos:
        pytest.skip("scikit-image is not installed")
    assert len(photos) == 20 and all(p.ndim == 3 and p.shape[2] == 3 for p in photos)


def test_frozen_backbone_agrees_fully_and_a_large_lr_forgets(imagenet_weights, tmp_path):
    if not reference_photos(8):
        pytest.skip("scikit-image is not installed")
    frozen = _config(imagenet_weights, "feature_extraction", 1e-3)
    run = tunelab.fine_tune(frozen, tmp_path / "fe").run_dir
    kept = old_task_score(validate_config(frozen), run, 48)
    assert kept == {"name": "ImageNet top-1 agreement", "before": 1.0, "after": 1.0, "n": 48}
    moved = _config(imagenet_weights, "full", 0.5)
    run = tunelab.fine_tune(moved, tmp_path / "full").run_dir
    assert old_task_score(validate_config(moved), run, 48)["after"] < 1.0


def test_no_score_without_pretrained_imagenet_weights(tmp_path):
    config = {**_config(None, "full", 1e-3), "model": {"name": TINY_CNN, "pretrained": False}}
    run = tunelab.fine_tune(config, tmp_path / "scratch").run_dir
    assert old_task_score(validate_config(config), run, 48) is None
