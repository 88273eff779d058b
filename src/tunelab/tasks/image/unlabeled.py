"""``data.unlabeled`` for images: the images self-training pseudo-labels.

A folder of images (nested folders read too), a CSV/JSONL with ``data.path_column``, or
any labelled source the splits may come from (class sub-folders, ``builtin:``,
``arrays:``). Images are decoded as training images are (``data.on_bad_image``
applies). Labels found in the source (class sub-folders, ``data.label_column``) are
kept as each image's true label: never trained on, only compared with pseudo-labels.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tunelab.errors import ConfigError, DataError
from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.decode import DecodeReport, ImageSet, decode_entries
from tunelab.tasks.image.sources import IMAGE_SUFFIXES, ImageEntries, list_source
from tunelab.tasks.image.transforms import ImagePreprocessing

WHERE = "data.unlabeled"


def read_unlabeled_images(cfg: ImageDataConfig, pre: ImagePreprocessing, source: str) -> ImageSet:
    """The decoded images, labels None where the source has none.

    Raises:
        ConfigError: a problem type other than single-label classes.
        DataError: the source is missing, holds no image, or (``on_bad_image: error``)
            an unreadable one.
    """
    kind = getattr(cfg, "problem_type", "single_label")
    if kind != "single_label":
        raise ConfigError(
            f"{WHERE}: self-training pseudo-labels single-label classes, not problem_type "
            f"{kind}; drop {WHERE}"
        )
    entries = _list(source, cfg)
    if entries.frame.empty:
        raise DataError(f"{WHERE} ({source}): no images listed; give a folder of images")
    return decode_entries(entries, pre, cfg.on_bad_image, WHERE, DecodeReport())


def _list(source: str, cfg: ImageDataConfig) -> ImageEntries:
    path = Path(source).expanduser()
    if path.is_dir() and not _class_folders(path):
        return _flat_folder(path)
    if path.is_file() and not _has_label_column(source, cfg):
        return _path_table(source, path, cfg)
    return list_source(source, WHERE, cfg)


def _class_folders(root: Path) -> bool:
    """Whether ``root`` is laid out like a labelled folder: sub-folders, no images."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    has_images = any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in entries)
    return not has_images and any(p.is_dir() for p in entries)


def _flat_folder(root: Path) -> ImageEntries:
    files = [
        str(p)
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return ImageEntries(pd.DataFrame({"image": files, "label": [None] * len(files)}), str(root))


def _has_label_column(source: str, cfg: ImageDataConfig) -> bool:
    from tunelab.data.sources import read_table

    return cfg.label_column in read_table(source, WHERE).columns


def _path_table(source: str, path: Path, cfg: ImageDataConfig) -> ImageEntries:
    from tunelab.data.sources import read_table

    table = read_table(source, WHERE)
    if cfg.path_column not in table.columns:
        columns = ", ".join(str(c) for c in table.columns)
        raise DataError(
            f"{WHERE} ({source}): no column '{cfg.path_column}'; columns are: {columns}; "
            "set data.path_column"
        )
    paths = [str(v).strip() for v in table[cfg.path_column] if pd.notna(v) and str(v).strip()]
    resolved = [p if Path(p).is_absolute() else str(path.parent / p) for p in paths]
    return ImageEntries(pd.DataFrame({"image": resolved, "label": [None] * len(paths)}), source)
