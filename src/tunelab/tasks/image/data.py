"""Image classification data: list, filter, decode, split and summarise.

:func:`prepare_image_data` applies the class filters to the listed training pool (as for
text), decodes every image once at the model's input size (a file that is not a readable
image is an error naming it, or with ``data.on_bad_image: skip`` is skipped and counted),
drops exact duplicate images (``data.dedupe``), splits off validation / test (seeded,
stratified) and writes the summary and warnings. The sources it reads are listed in
:mod:`tunelab.tasks.image.sources`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tunelab.data.checks import require_classes, require_known_labels
from tunelab.data.class_folders import filter_listed_classes
from tunelab.data.cleaning import CleaningReport
from tunelab.data.leakage import drop_leaks, leakage_warnings
from tunelab.data.splits import SPLIT_NAMES, complete_splits, split_sources
from tunelab.errors import DataError
from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.decode import DecodeReport, ImageSet, decode_entries, image_hashes
from tunelab.tasks.image.sources import ImageEntries, list_source
from tunelab.tasks.image.summary import image_summary
from tunelab.tasks.image.transforms import ImagePreprocessing


@dataclass
class ImageSplits:
    """Decoded train / validation / test images, the label list, summary and warnings."""

    train: ImageSet
    validation: ImageSet
    test: ImageSet
    labels: list[str]
    summary: dict[str, Any]
    warnings: list[str]
    preprocessing: ImagePreprocessing


def prepare_image_data(cfg: ImageDataConfig, pre: ImagePreprocessing, seed: int) -> ImageSplits:
    """List, filter, decode, dedupe, split and check the images a run uses.

    Raises:
        DataError: unreadable source or image (``on_bad_image: error``), fewer than 2
            classes, a class too small to stratify, or unknown evaluation labels.
    """
    listed = list_sources(cfg)
    report = CleaningReport()
    listed = filter_listed_classes(listed, cfg.min_class_count, cfg.max_per_class, seed, report)
    decoded, bad = decode_all(listed, cfg, pre)
    decoded["train"], counts = dedupe_images(decoded["train"], cfg.dedupe)
    counts["dropped_missing"] = sum(e.dropped_missing for e in listed.values())
    origins = {name: entries.origin for name, entries in listed.items()}
    require_classes(pd.DataFrame({"label": decoded["train"].labels}), origins["train"], report)
    splits = complete_splits(decoded, cfg, seed, lambda s: s.labels, lambda s, rows: s.take(rows))
    splits, leakage = drop_leaks(
        splits, cfg.leakage, lambda s: image_hashes(s.images), lambda s, rows: s.take(rows)
    )
    labels = sorted(set(splits["train"].labels))
    for name in ("validation", "test"):
        if name in listed:
            require_known_labels(
                pd.DataFrame({"label": splits[name].labels}), labels, f"data.{name}", origins[name]
            )
    summary = image_summary(splits, labels, split_sources(cfg), report, bad, counts, pre)
    summary["leakage"] = leakage  # data.leakage (tunelab.data.leakage)
    sizes = {name: len(images) for name, images in splits.items()}
    summary["warnings"][:0] = leakage_warnings(leakage, sizes, "images")
    return ImageSplits(
        **splits, labels=labels, summary=summary, warnings=summary["warnings"], preprocessing=pre
    )


def list_sources(cfg: ImageDataConfig) -> dict[str, ImageEntries]:
    """Each configured split's images and labels, listed (nothing decoded yet).

    Raises:
        DataError: ``data.train`` unset, or a source :func:`list_source` cannot list.
    """
    if not cfg.train:
        raise DataError(
            "data.train is not set; set it to an image folder, a CSV/JSONL of "
            "path,label, or builtin:mnist / builtin:digits"
        )
    sources = {name: getattr(cfg, name) for name in SPLIT_NAMES if getattr(cfg, name)}
    return {name: list_source(src, f"data.{name}", cfg) for name, src in sources.items()}


def decode_all(
    listed: dict[str, ImageEntries], cfg: ImageDataConfig, pre: ImagePreprocessing
) -> tuple[dict[str, ImageSet], DecodeReport]:
    report = DecodeReport()
    decoded = {
        name: decode_entries(entries, pre, cfg.on_bad_image, f"data.{name}", report)
        for name, entries in listed.items()
    }
    return decoded, report


def dedupe_images(images: ImageSet, dedupe: bool) -> tuple[ImageSet, dict[str, int]]:
    """Drop repeated images (identical pixels at the model's size), first label kept."""
    hashes = image_hashes(images.images)
    labels_of: dict[str, set[str]] = {}
    for digest, label in zip(hashes, images.labels, strict=True):
        labels_of.setdefault(digest, set()).add(label)
    conflicting = sum(1 for labels in labels_of.values() if len(labels) > 1)
    if not dedupe:
        return images, {"dropped_duplicates": 0, "conflicting_images": conflicting}
    seen: set[str] = set()
    keep = [i for i, digest in enumerate(hashes) if not (digest in seen or seen.add(digest))]
    counts = {"dropped_duplicates": len(images) - len(keep), "conflicting_images": conflicting}
    return (images if len(keep) == len(images) else images.take(keep)), counts
