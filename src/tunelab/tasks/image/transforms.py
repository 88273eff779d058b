"""Image preprocessing (decode once, to the model's size) and training augmentation.

Every image, whatever its source (file, array, PIL image), goes through
:meth:`ImagePreprocessing.to_uint8`: converted to RGB (grayscale is replicated into three
channels; 16-bit and float images are scaled to 8 bits), its shorter side resized to the
model's input size with the pretrained interpolation, and centre-cropped to a square.
Training keeps these uint8 tensors in memory and augments them on the fly; evaluation and
prediction only normalise them with the pretrained mean and std.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from tunelab.errors import DataError
from tunelab.tasks.image.config import AugmentConfig, ImageModelConfig

_EIGHT_BIT_MODES = {"1", "L", "P", "RGB", "RGBA", "LA", "PA", "CMYK", "YCbCr", "LAB", "HSV"}


@dataclass(frozen=True)
class ImagePreprocessing:
    """How images become model inputs: size, normalisation and resize interpolation."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (model card, data summary)."""
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    def to_uint8(self, image: Any) -> torch.Tensor:
        """A ``[3, size, size]`` uint8 tensor: RGB, shorter side resized, centre crop."""
        rgb = to_rgb_image(image)
        width, height = rgb.size
        scale = self.size / min(width, height)
        new = (max(self.size, round(width * scale)), max(self.size, round(height * scale)))
        rgb = rgb.resize(new, resample=_pil_resample(self.interpolation))
        left, top = (new[0] - self.size) // 2, (new[1] - self.size) // 2
        rgb = rgb.crop((left, top, left + self.size, top + self.size))
        return torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, 3, H, W]`` to float, scaled to [0, 1], minus mean, over std."""
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return (images.float() / 255.0 - mean) / std


def resolve_preprocessing(cfg: ImageModelConfig) -> ImagePreprocessing:
    """The model's pretrained data config (timm), with ``model.image_size`` if set."""
    from tunelab.tasks.image.model import pretrained_data_config

    data = pretrained_data_config(cfg.name)
    size = cfg.image_size or int(data["input_size"][-1])
    return ImagePreprocessing(size, tuple(data["mean"]), tuple(data["std"]), data["interpolation"])


def to_rgb_image(image: Any):
    """A PIL RGB image from a PIL image, a file path or an array (HxW, HxWxC or CxHxW).

    Raises:
        ValueError: an array of a shape or type that is not an image.
    """
    from PIL import Image

    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
        if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
            image = np.moveaxis(image, 0, -1)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(_to_uint8_array(image))
    if not isinstance(image, Image.Image):
        raise ValueError(f"not an image: {type(image).__name__}")
    if image.mode not in _EIGHT_BIT_MODES:  # 16-bit / 32-bit grayscale, float
        image = Image.fromarray(_to_uint8_array(np.asarray(image)))
    return image.convert("RGB")


def _to_uint8_array(array: np.ndarray) -> np.ndarray:
    """8-bit pixels: uint8 as is; [0, 1] floats x 255; other ranges min-max scaled."""
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"array of shape {array.shape} is not an image (HxW or HxWx3/4)")
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("image array holds NaN or infinite values")
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0 and np.issubdtype(array.dtype, np.floating):
        return np.round(values * 255).astype(np.uint8)
    if low >= 0.0 and high <= 255.0 and np.issubdtype(array.dtype, np.integer):
        return values.astype(np.uint8)
    scaled = (values - low) / max(high - low, 1e-12) * 255  # windowing of 16-bit scans
    return np.round(scaled).astype(np.uint8)


def _pil_resample(interpolation: str) -> int:
    from PIL import Image

    modes = {
        "bicubic": Image.Resampling.BICUBIC,
        "bilinear": Image.Resampling.BILINEAR,
        "nearest": Image.Resampling.NEAREST,
        "lanczos": Image.Resampling.LANCZOS,
        "box": Image.Resampling.BOX,
        "hamming": Image.Resampling.HAMMING,
    }
    return modes.get(interpolation, Image.Resampling.BILINEAR)


def _tv_interpolation(interpolation: str):
    from torchvision.transforms import InterpolationMode

    try:
        return InterpolationMode(interpolation)
    except ValueError:
        return InterpolationMode.BILINEAR


def _affine_interpolation(mode):
    """The interpolation for rotations, shears and translations of uint8 tensors, which
    torchvision runs in nearest or bilinear only (bicubic, timm's usual resize, raises
    on the first batch); resizes keep the pretrained ``mode``."""
    from torchvision.transforms import InterpolationMode

    usable = (InterpolationMode.NEAREST, InterpolationMode.BILINEAR)
    return mode if mode in usable else InterpolationMode.BILINEAR


def build_augmentation(aug: AugmentConfig, pre: ImagePreprocessing) -> Callable | None:
    """Per-image uint8 -> uint8 torchvision v2 transform, or None when nothing is on.

    Order: random resized crop, flips, rotation, colour jitter, then TrivialAugment or
    RandAugment. Rotation fills with black, the background of scans and digits.
    """
    from torchvision.transforms import v2

    mode = _tv_interpolation(pre.interpolation)
    warp = _affine_interpolation(mode)
    ops: list = []
    if aug.crop_scale is not None:
        low, high = aug.crop_scale
        if not 0 < low <= high <= 1:
            raise DataError(f"data.augment.crop_scale {aug.crop_scale}: need 0 < min <= max <= 1")
        ops.append(
            v2.RandomResizedCrop(pre.size, scale=(low, high), interpolation=mode, antialias=True)
        )
    if aug.hflip:
        ops.append(v2.RandomHorizontalFlip(aug.hflip))
    if aug.vflip:
        ops.append(v2.RandomVerticalFlip(aug.vflip))
    if aug.rotation:
        ops.append(v2.RandomRotation(aug.rotation))
    if aug.color_jitter:
        strength = aug.color_jitter
        ops.append(v2.ColorJitter(brightness=strength, contrast=strength, saturation=strength))
    if aug.auto == "trivial":
        ops.append(v2.TrivialAugmentWide(interpolation=warp))
    elif aug.auto == "randaugment":
        ops.append(
            v2.RandAugment(aug.randaugment_ops, aug.randaugment_magnitude, interpolation=warp)
        )
    return v2.Compose(ops) if ops else None


def build_batch_mix(aug: AugmentConfig, num_classes: int) -> Callable | None:
    """MixUp and / or CutMix over a whole batch (soft labels), or None when both are off."""
    from torchvision.transforms import v2

    mixes = []
    if aug.mixup > 0:
        mixes.append(v2.MixUp(alpha=aug.mixup, num_classes=num_classes))
    if aug.cutmix > 0:
        mixes.append(v2.CutMix(alpha=aug.cutmix, num_classes=num_classes))
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def augmentation_active(aug: AugmentConfig) -> bool:
    """Whether any training augmentation is configured."""
    return bool(
        aug.crop_scale is not None
        or aug.hflip
        or aug.vflip
        or aug.rotation
        or aug.color_jitter
        or aug.auto != "none"
        or aug.mixup
        or aug.cutmix
    )
