"""Every documented ``data.augment`` option runs, on the interpolation of the default
image model (bicubic: TrivialAugment and RandAugment raised on the first batch)."""

from __future__ import annotations

import json

import pytest
import torch

import tunelab
from tunelab.tasks.image.config import AugmentConfig
from tunelab.tasks.image.model import pretrained_data_config
from tunelab.tasks.image.transforms import ImagePreprocessing, build_augmentation

OPTIONS = {  # every AugmentConfig field, switched on
    "crop_scale": {"crop_scale": (0.5, 0.9)},
    "hflip": {"hflip": 1.0},
    "vflip": {"vflip": 1.0},
    "rotation": {"rotation": 30},
    "color_jitter": {"color_jitter": 0.5},
    "auto": {"auto": "trivial"},
    "randaugment_ops": {"auto": "randaugment", "randaugment_ops": 3},
    "randaugment_magnitude": {"auto": "randaugment", "randaugment_magnitude": 30},
    "mixup": {"mixup": 0.4},
    "cutmix": {"cutmix": 1.0},
}


def test_the_options_cover_every_augment_key():
    assert set(OPTIONS) == set(AugmentConfig.model_fields)


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_each_per_image_option_runs_with_the_default_models_interpolation(option):
    interpolation = pretrained_data_config("efficientnet_lite0")["interpolation"]
    assert interpolation == "bicubic"
    pre = ImagePreprocessing(24, (0.5,) * 3, (0.5,) * 3, interpolation)
    settings = {"crop_scale": None, "hflip": 0.0, **OPTIONS[option]}
    augment = build_augmentation(AugmentConfig(**settings), pre)
    if option in ("mixup", "cutmix"):  # batch-level: not a per-image transform
        assert augment is None
        return
    torch.manual_seed(0)
    image = torch.randint(0, 256, (3, 24, 24), dtype=torch.uint8)
    outputs = [augment(image) for _ in range(30)]  # the random ops reach every branch
    assert all(o.shape == (3, 24, 24) and o.dtype == torch.uint8 for o in outputs)
    assert any(not torch.equal(o, image) for o in outputs)


def test_a_run_with_every_augmentation_on_trains(image_config, tmp_path, monkeypatch):
    from tunelab.tasks.image import model as image_model

    real = image_model.pretrained_data_config
    monkeypatch.setattr(  # the tiny CNN with the default model's bicubic interpolation
        image_model,
        "pretrained_data_config",
        lambda name: {**real(name), "interpolation": "bicubic"},
    )
    for n, auto in enumerate(("trivial", "randaugment")):
        augment = {key: v for settings in OPTIONS.values() for key, v in settings.items()}
        image_config["data"]["augment"] = {**augment, "auto": auto}
        image_config["train"]["epochs"] = 1
        run = tunelab.fine_tune(image_config, tmp_path / f"run{n}").run_dir
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "finished"
        summary = json.loads((run / "data_summary.json").read_text())
        assert summary["preprocessing"]["interpolation"] == "bicubic"
