"""The ``data_summary.json`` of an image run: split sizes, class counts, original image
sizes, what cleaning dropped, the preprocessing, and the warnings a user should read."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from tunelab.data.checks import class_warnings
from tunelab.data.cleaning import CleaningReport
from tunelab.tasks.image.decode import DecodeReport, ImageSet, image_hashes
from tunelab.tasks.image.transforms import ImagePreprocessing


def image_summary(
    splits: dict[str, ImageSet],
    labels: list[str],
    sources: dict[str, str],
    report: CleaningReport,
    bad: DecodeReport,
    counts: dict[str, int],
    pre: ImagePreprocessing,
    targets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``data_summary.json`` content of an image run (see ``docs/run_dir.md``).

    ``targets``: a multi-label or regression run's label counts or target statistics
    (:func:`tunelab.tasks.targets.target_summary`), which replace the class counts and
    class warnings: its labels are no classes.
    """
    duplicates = _duplicates_across_splits(splits)
    classes = [] if targets else class_warnings(pd.DataFrame({"label": splits["train"].labels}))
    warnings = [*_bad_image_warnings(bad), *classes, *_overlap_warnings(duplicates, splits)]
    if counts.get("conflicting_images"):
        warnings.append(
            f"data.train: {counts['conflicting_images']} images occur with "
            "different labels; with data.dedupe the first label is kept"
        )
    return {
        "task": "image_classification",
        "labels": list(labels),
        **({"targets": targets} if targets else {}),
        "splits": {
            name: _split_summary(images, None if targets else labels, sources[name])
            for name, images in splits.items()
        },
        "duplicates_across_splits": duplicates,
        "cleaning": {
            **counts,
            "bad_images": bad.count,
            "bad_image_files": bad.first_files(),
            **report.class_filters(),
        },
        "preprocessing": {
            **pre.to_dict(),
            "resize": "shorter side to size, centre crop",
            "channels": "RGB (grayscale replicated)",
        },
        "warnings": warnings,
    }


def _split_summary(images: ImageSet, labels: list[str] | None, source: str) -> dict[str, Any]:
    """Size, source, class counts (``labels`` None: no classes), original sizes."""
    sizes = pd.Series(images.labels).value_counts()
    counts = {label: int(sizes.get(label, 0)) for label in labels} if labels else None
    return {
        "n": len(images),
        "source": source,
        **({"class_counts": counts} if counts is not None else {}),
        "original_size": {"width": _spread(images.widths), "height": _spread(images.heights)},
        "grayscale": int(sum(images.grayscale)),
    }


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "p50": 0, "max": 0}
    return {"min": min(values), "p50": float(statistics.median(values)), "max": max(values)}


def _duplicates_across_splits(splits: dict[str, ImageSet]) -> dict[str, int]:
    """Images of a later split whose pixels also occur in an earlier one."""
    hashes = {name: image_hashes(images.images) for name, images in splits.items()}
    pairs = (("train", "validation"), ("train", "test"), ("validation", "test"))
    return {f"{a}-{b}": sum(h in set(hashes[a]) for h in hashes[b]) for a, b in pairs}


def _overlap_warnings(duplicates: dict[str, int], splits: dict[str, ImageSet]) -> list[str]:
    return [
        f"{duplicates[f'train-{name}']} of {len(splits[name])} {name} images also occur in "
        f"train (identical pixels): they leak and inflate {name} scores"
        for name in ("validation", "test")
        if duplicates.get(f"train-{name}")
    ]


def _bad_image_warnings(bad: DecodeReport) -> list[str]:
    return [
        f"{where}: skipped {len(files)} unreadable image{'s' if len(files) > 1 else ''} "
        f"(first: {files[0]}); data.on_bad_image: skip"
        for where, files in bad.bad.items()
    ]
