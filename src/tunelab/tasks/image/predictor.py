"""Inference on images: the trained classifier with its preprocessing and labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from tunelab.errors import RunDirError
from tunelab.tasks.classification import HeadConfig, Prediction, predictions
from tunelab.tasks.image.config import ImageModelConfig


class ImagePredictor:
    """A trained image classifier with its preprocessing and labels.

    ``predict`` takes file paths, PIL images or arrays (HxW grayscale, HxWx3 RGB), one
    or a list; every image is preprocessed exactly as in training (RGB, shorter side
    resized, centre crop, pretrained mean/std). A multi-label or regression model
    (``tunelab.tasks.image.targets``) changes only :meth:`activate` and :meth:`records`.
    """

    problem_type = "single_label"

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessing,
        labels: list[str],
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.preprocessing, self.labels = preprocessing, labels
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict_proba(self, images: Any, batch_size: int = 64) -> torch.Tensor:
        """Class probabilities, one row per image, in input order."""
        from tunelab.tasks.image.decode import open_image

        items = as_image_list(images)
        out = torch.empty(len(items), len(self.labels))
        for start in range(0, len(items), batch_size):
            chunk = [
                open_image(str(x)) if isinstance(x, str | Path) else x
                for x in items[start : start + batch_size]
            ]
            uint8 = [self.preprocessing.to_uint8(x) for x in chunk]
            out[start : start + len(chunk)] = self._probabilities(uint8)
        return out

    def _probabilities(self, uint8: list[torch.Tensor]) -> torch.Tensor:
        pixels = self.preprocessing.normalize(torch.stack(uint8))
        return self.activate(self.model(pixel_values=pixels.to(self.device)).float().cpu())

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        """The head's outputs as what :meth:`predict_proba` returns: class probabilities."""
        return logits.softmax(-1)

    def records(self, scores: torch.Tensor) -> list:
        """One prediction per row of :meth:`activate`'s output."""
        return predictions(self.labels, scores)

    @torch.inference_mode()
    def predict_records(self, records: Sequence[dict], batch_size: int = 64) -> list[dict]:
        """Each input record (``{"image": path, ...}``) with its prediction, in order.

        A file that is missing or not a readable image (zero bytes, truncated, another
        format) costs only its own prediction: its record gets an ``error`` naming it,
        the others are predicted. A record that already holds an ``error`` is kept.
        """
        out = [dict(record) for record in records]
        for start in range(0, len(out), batch_size):
            chunk = out[start : start + batch_size]
            ready = {i: x for i, x in enumerate(self._decode_records(chunk)) if x is not None}
            if ready:
                probabilities = self._probabilities(list(ready.values()))
                for i, prediction in zip(ready, self.records(probabilities), strict=True):
                    chunk[i].update(prediction.to_dict())
        return out

    def _decode_records(self, records: list[dict]) -> list[torch.Tensor | None]:
        """Pixels per record (None where it failed; the record then gets an ``error``)."""
        from tunelab.tasks.image.decode import _UNREADABLE, open_image

        decoded: list[torch.Tensor | None] = []
        for record in records:
            if "error" in record:
                decoded.append(None)
                continue
            try:
                decoded.append(self.preprocessing.to_uint8(open_image(str(record["image"]))))
            except _UNREADABLE as err:
                reason = " ".join(f"{err.__class__.__name__}: {err}".split())
                record["error"] = f"cannot read image '{record['image']}' ({reason})"
                decoded.append(None)
        return decoded

    def predict(self, images: Any, batch_size: int = 64) -> list[Prediction]:
        """Predicted label and per-label probabilities for each image (a multi-label
        model: label sets; regression: values)."""
        items = as_image_list(images)
        if not items:
            return []
        return self.records(self.predict_proba(items, batch_size))


def as_image_list(images: Any) -> list:
    """One image (path, PIL image, HxW / HxWxC array) or many, as a list."""
    if isinstance(images, str | Path) or hasattr(images, "mode"):
        return [images]
    if isinstance(images, np.ndarray | torch.Tensor):
        single = images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4))
        return [images] if single else list(images)
    return list(images) if isinstance(images, Sequence) else [images]


def load_image_predictor(model_dir: Path, card: dict, device: str = "cpu") -> ImagePredictor:
    """Rebuild a saved image classifier (LoRA: base weights + adapter) as a predictor."""
    from tunelab.tasks.image.model import build_image_classifier
    from tunelab.tasks.image.transforms import ImagePreprocessing

    lora = card["format"] == "lora"
    model_cfg = ImageModelConfig(
        name=card["model"],
        weights=card.get("weights"),
        pretrained=lora,
        freeze_bn=card.get("freeze_bn", True),
        head=HeadConfig(**card["head"]),
    )
    model, _ = build_image_classifier(model_cfg, len(card["labels"]))
    if lora:
        from tunelab.strategies.lora import load_adapter

        model.backbone = load_adapter(model.backbone, model_dir / "adapter")
    weights = load_file(str(model_dir / "model.safetensors"))
    _, unexpected = model.load_state_dict(weights, strict=not lora)
    if unexpected:
        raise RunDirError(f"{model_dir}: weights do not match the model ({unexpected[:3]})")
    pre = card["preprocessing"]
    preprocessing = ImagePreprocessing(
        pre["size"], tuple(pre["mean"]), tuple(pre["std"]), pre["interpolation"]
    )
    return ImagePredictor(model, preprocessing, card["labels"], device)
