"""The ``model`` and ``data`` sections of an image classification run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.config import _Section
from tunelab.tasks.classification import ClassifierModelConfig
from tunelab.tasks.targets import TargetDataConfig

DEFAULT_IMAGE_MODEL = "efficientnet_lite0"


class ImageModelConfig(ClassifierModelConfig):
    """A timm architecture, its weights and input size, with a classification head."""

    name: str = DEFAULT_IMAGE_MODEL
    weights: str | None = None  # a .safetensors / .pth state dict for a timm architecture
    image_size: int | None = Field(None, ge=16)  # default: the architecture's pretrained size
    freeze_bn: bool = True  # BatchNorm of frozen layers keeps its running statistics


class AugmentConfig(_Section):
    """Training-time image augmentation (torchvision v2); evaluation never augments.

    Each transform is off at its neutral value. ``auto`` adds a learned-policy-free
    random augmentation (TrivialAugment, RandAugment); ``mixup`` / ``cutmix`` are Beta
    alphas (0 = off) applied per batch with soft labels.
    """

    crop_scale: tuple[float, float] | None = (0.8, 1.0)  # random resized crop; null = off
    hflip: float = Field(0.5, ge=0.0, le=1.0)
    vflip: float = Field(0.0, ge=0.0, le=1.0)
    rotation: float = Field(0.0, ge=0.0, le=180.0)  # degrees, either way
    color_jitter: float = Field(0.0, ge=0.0, le=1.0)  # brightness / contrast / saturation
    auto: Literal["none", "trivial", "randaugment"] = "none"
    randaugment_ops: int = Field(2, ge=1)
    randaugment_magnitude: int = Field(9, ge=0, le=30)
    mixup: float = Field(0.0, ge=0.0)
    cutmix: float = Field(0.0, ge=0.0)


class ImageDataConfig(TargetDataConfig):
    """Image folders or path,label tables: the path column, bad files, augmentation;
    multi-label or regression targets from a table (``problem_type``)."""

    # A CSV/JSONL's path column (relative paths resolve from the file's folder).
    path_column: str = "path"
    on_bad_image: Literal["error", "skip"] = "error"
    # images without labels (a folder of images, or a CSV/JSONL with path_column) for
    # self-training (section self_training); class sub-folders / a label column only
    # check the pseudo-labels
    unlabeled: str | None = None
    dedupe: bool = True
    # validation / test images that also occur in train (identical pixels): warn, or
    # drop them from validation / test (counted in data_summary.json "leakage")
    leakage: Literal["warn", "drop"] = "warn"
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
