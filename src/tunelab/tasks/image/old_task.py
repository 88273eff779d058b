"""What an ImageNet CNN could do before fine-tuning, scored after it.

The tuned backbone under the checkpoint's original ImageNet classifier, on reference
photos: the share whose top-1 ImageNet class is still the pretrained model's. Falling
agreement is catastrophic forgetting of the old task (the new head is not involved).
The photos ship with scikit-image (``skimage.data``), each also flipped and cropped.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from tunelab.config import Config

TASK_NAME = "ImageNet top-1 agreement"
_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry")


def reference_photos(limit: int) -> list[np.ndarray]:
    """Up to ``limit`` RGB views of scikit-image's photos (empty when it is missing)."""
    try:
        from skimage import data
    except ImportError:
        return []
    views = []
    for name in _PHOTOS:
        image = getattr(data, name, lambda: None)()
        if image is None or image.ndim != 3:
            continue
        h, w = image.shape[:2]
        crops = [image, image[: h * 3 // 4, : w * 3 // 4], image[h // 4 :, w // 4 :]]
        crops += [image[h // 8 : h * 7 // 8, w // 8 : w * 7 // 8]]
        views += [view for crop in crops for view in (crop, crop[:, ::-1])]
    return [np.ascontiguousarray(view) for view in views[:limit]]


def _top1(model: torch.nn.Module, pixels: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.eval()(pixels).argmax(-1).numpy()


def old_task_score(cfg: Config, run_dir: Path, limit: int) -> dict | None:
    """``{"name", "before": 1.0, "after", "n"}``; None without pretrained ImageNet
    weights that include their classifier, or without reference photos."""
    from tunelab.run_dir import model_dir_of, read_model_card
    from tunelab.tasks.image.model import create_backbone
    from tunelab.tasks.image.predictor import load_image_predictor

    photos = reference_photos(limit)
    if len(photos) < 8 or not cfg.model.pretrained:
        return None
    original, source = create_backbone(cfg.model, num_classes=1000)
    classifier = original.pretrained_cfg.get("classifier", "classifier")
    if source is None or not _has_classifier(source):
        return None
    model_dir = model_dir_of(Path(run_dir))
    tuned = load_image_predictor(model_dir, read_model_card(model_dir))
    moved = copy.deepcopy(original)
    missing, _ = moved.load_state_dict(tuned.model.backbone.state_dict(), strict=False)
    if any(not key.startswith(classifier + ".") for key in missing):
        return None  # the tuned backbone is not this architecture (layers removed)
    pre = tuned.preprocessing
    pixels = pre.normalize(torch.stack([pre.to_uint8(photo) for photo in photos]))
    agreement = float(np.mean(_top1(original, pixels) == _top1(moved, pixels)))
    return {"name": TASK_NAME, "before": 1.0, "after": agreement, "n": len(photos)}


def _has_classifier(source: Path) -> bool:
    """Whether the weights file holds an ImageNet classifier (a matrix with 1000 rows)."""
    from tunelab.tasks.image.model import read_state_dict

    return any(v.ndim == 2 and v.shape[0] == 1000 for v in read_state_dict(source).values())
