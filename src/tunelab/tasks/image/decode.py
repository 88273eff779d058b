"""Image decoding: every listed image once, at the model's input size, as uint8.

A file or array that is not a readable image is an error naming it, or with
``data.on_bad_image: skip`` is skipped and counted in a :class:`DecodeReport`. Content
hashes of the decoded pixels find exact duplicates within and across splits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.data.class_folders import DecodeReport
from tunelab.data.class_folders import content_hashes as image_hashes  # noqa: F401 - the image modules import it here
from tunelab.errors import DataError
from tunelab.tasks.image.sources import ImageEntries
from tunelab.tasks.image.transforms import ImagePreprocessing


@dataclass
class ImageSet:
    """Decoded images of one split, with their labels and names (paths or ``origin#i``)."""

    images: torch.Tensor
    labels: list[str]
    names: list[str]
    widths: list[int] = field(default_factory=list)
    heights: list[int] = field(default_factory=list)
    grayscale: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def concat(self, other: ImageSet) -> ImageSet:
        """This set's images, then ``other``'s (same image size)."""
        return ImageSet(
            torch.cat([self.images, other.images]),
            self.labels + other.labels,
            self.names + other.names,
            self.widths + other.widths,
            self.heights + other.heights,
            self.grayscale + other.grayscale,
        )

    def take(self, rows: Sequence[int]) -> ImageSet:
        """The images at ``rows``, in that order."""
        rows = list(rows)
        pick = lambda values: [values[i] for i in rows]  # noqa: E731
        return ImageSet(
            self.images[torch.as_tensor(rows, dtype=torch.long)],
            pick(self.labels),
            pick(self.names),
            pick(self.widths),
            pick(self.heights),
            pick(self.grayscale),
        )


def decode_entries(
    entries: ImageEntries, pre: ImagePreprocessing, on_bad: str, where: str, report: DecodeReport
) -> ImageSet:
    """Decode every listed image to ``[3, S, S]`` uint8.

    Raises:
        DataError: an unreadable image with ``on_bad == "error"``, naming the file; or no
            readable image at all.
    """
    tensors, kept, widths, heights, gray = [], [], [], [], []
    for row, item in enumerate(entries.frame["image"]):
        name = entries.name_of(item)
        try:
            raw = entries.arrays[item] if entries.arrays is not None else item
            raw = open_image(str(raw)) if isinstance(raw, str | Path) else raw
            info = _describe(raw)
            tensors.append(pre.to_uint8(raw))
        except _UNREADABLE as err:
            report.unreadable(err, name, where, on_bad, "image")
            continue
        kept.append(row)
        widths.append(info[0])
        heights.append(info[1])
        gray.append(info[2])
    if not tensors:
        raise DataError(f"{where} ({entries.origin}): no readable images")
    frame = entries.frame.iloc[kept]
    names = [entries.name_of(item) for item in frame["image"]]
    return ImageSet(torch.stack(tensors), frame["label"].tolist(), names, widths, heights, gray)


# What PIL and numpy raise for a file or array that is not a usable image.
_UNREADABLE = (OSError, ValueError, SyntaxError, TypeError, EOFError)


def open_image(path: str):
    """A fully loaded, upright PIL image (``load`` forces decoding, so truncation fails here).

    Cameras and phones store pixels as the sensor saw them and an EXIF Orientation tag
    saying how to turn them; every viewer applies it, so the upright image is what the
    user labelled and what a prediction must see. Training, evaluation and prediction
    all open files here.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            image.load()
            return ImageOps.exif_transpose(image)  # a rotated copy, or a plain copy
    except Image.DecompressionBombError as err:
        raise ValueError(str(err)) from None


def _describe(raw: Any) -> tuple[int, int, bool]:
    """Original width, height and whether the image is single-channel."""
    if isinstance(raw, np.ndarray):
        gray = raw.ndim == 2 or (raw.ndim == 3 and raw.shape[-1] == 1)
        return int(raw.shape[1]), int(raw.shape[0]), gray
    if hasattr(raw, "size") and hasattr(raw, "mode"):
        return raw.size[0], raw.size[1], raw.mode in ("1", "L", "LA", "I", "I;16", "I;16B", "F")
    raise ValueError(f"not an image: {type(raw).__name__}")
