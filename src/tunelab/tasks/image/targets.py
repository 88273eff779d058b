"""Image runs whose targets are not one class: ``data.problem_type`` multi_label or
regression, from a CSV/JSONL of path and label (a list, a separated string, or a
number), arrays from Python or a builtin set. What any task shares is
:mod:`tunelab.tasks.targets`; this module lists, decodes and splits the images, builds
the batches' target tensors and predicts label sets or values from images.

An :class:`~tunelab.tasks.image.decode.ImageSet`'s ``labels`` then hold each image's
labels joined by ``data.label_separator``, or its target as a float; ``splits.labels``
is every training label, or ``[data.label_column]`` for regression.
"""

from __future__ import annotations

from typing import Any

import torch

from tunelab.config import Config
from tunelab.data.cleaning import CleaningReport
from tunelab.data.splits import split_sources
from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.data import (
    ImageSplits,
    decode_all,
    dedupe_images,
    list_sources,
)
from tunelab.tasks.image.decode import ImageSet
from tunelab.tasks.image.predictor import ImagePredictor
from tunelab.tasks.image.summary import image_summary
from tunelab.tasks.image.transforms import ImagePreprocessing
from tunelab.tasks.target_predictions import (
    label_set_predictions,
    thresholds_tensor,
    value_predictions,
)
from tunelab.tasks.targets import (
    complete_random_splits,
    require_known_labels,
    stored_targets,
    target_matrix,
    target_summary,
    training_labels,
)


def image_class_keys(cfg: Config) -> dict[str, bool]:
    """Image settings that only make sense for one class per image, and whether each
    is set: MixUp / CutMix mix one-hot class labels (torchvision's v2 transforms)."""
    return {
        "data.augment.mixup": cfg.data.augment.mixup > 0,
        "data.augment.cutmix": cfg.data.augment.cutmix > 0,
    }


def prepare_image_targets(cfg: ImageDataConfig, pre: ImagePreprocessing, seed: int) -> ImageSplits:
    """List, read the targets of, decode, dedupe, split and summarise the images.

    Raises:
        DataError: unreadable source or image, a regression target that is not a
            number, an evaluation label training never saw, or too few rows to split.
    """
    listed = list_sources(cfg)
    for name, entries in listed.items():
        where = f"data.{name} ({entries.origin})"
        entries.frame["label"] = stored_targets(entries.frame["label"], cfg, where).tolist()
    decoded, bad = decode_all(listed, cfg, pre)
    decoded["train"], counts = dedupe_images(decoded["train"], cfg.dedupe)
    counts["dropped_missing"] = sum(e.dropped_missing for e in listed.values())
    splits = complete_random_splits(decoded, cfg, seed, lambda s, rows: s.take(rows))
    if cfg.problem_type == "regression":
        labels = [cfg.label_column]
    else:
        labels = training_labels(splits["train"].labels, cfg.label_separator, "data.train")
        require_known_labels({n: s.labels for n, s in splits.items()}, labels, cfg)
    targets = target_summary({n: s.labels for n, s in splits.items()}, labels, cfg)
    sources = split_sources(cfg)
    summary = image_summary(splits, labels, sources, CleaningReport(), bad, counts, pre, targets)
    return ImageSplits(
        **splits, labels=labels, summary=summary, warnings=summary["warnings"], preprocessing=pre
    )


def target_tensor(images: ImageSet, labels: list[str], cfg: ImageDataConfig) -> torch.Tensor:
    """A split's float targets for its batches: multi-hot rows, or the values."""
    return torch.as_tensor(target_matrix(images.labels, labels, cfg))


# ----------------------------------------------------------------------- prediction
class MultiLabelImagePredictor(ImagePredictor):
    """Sigmoid per label; a label is predicted at or above its tuned threshold."""

    problem_type = "multi_label"

    def __init__(self, *args: Any, thresholds: dict[str, float], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.thresholds = thresholds_tensor(self.labels, thresholds)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.sigmoid()

    def records(self, scores: torch.Tensor) -> list:
        return label_set_predictions(self.labels, scores, self.thresholds)


class RegressionImagePredictor(ImagePredictor):
    """One value per image, in the target's units (``predict_proba`` gives them too)."""

    problem_type = "regression"

    def __init__(self, *args: Any, mean: float, std: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mean, self.std = mean, std

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        return logits * self.std + self.mean

    def records(self, scores: torch.Tensor) -> list:
        return value_predictions(scores)


def target_image_predictor(base: ImagePredictor, card: dict[str, Any]) -> ImagePredictor:
    """``base`` (a classifier's predictor) as the predictor of the card's problem type."""
    common = (base.model, base.preprocessing, base.labels, base.device)
    if card["problem_type"] == "multi_label":
        return MultiLabelImagePredictor(*common, thresholds=card["thresholds"])
    return RegressionImagePredictor(*common, mean=card["target_mean"], std=card["target_std"])
