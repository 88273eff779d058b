"""Image data: folders, path tables, packaged and Python arrays, bad files, grayscale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tunelab.config import DataConfig
from tunelab.data.image_transforms import ImagePreprocessing, to_rgb_image
from tunelab.data.images import prepare_image_data, register_image_arrays
from tunelab.errors import DataError

PRE = ImagePreprocessing(24, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")


def _scan(kind: str, rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """A grayscale "scan": a bright disc ("lesion") or a ring ("normal"), plus noise."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(14, size - 14, 2)
    r = np.hypot(yy - cy, xx - cx)
    shape = r < 8 if kind == "lesion" else (r > 6) & (r < 9)
    return np.clip(40 + 170 * shape + rng.normal(0, 12, (size, size)), 0, 255).astype(np.uint8)


def write_scans(root, per_class: int = 12, seed: int = 0, sixteen_bit: int = 2):
    """``root/<class>/*.png`` grayscale images; a few stored as 16-bit PNGs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for kind in ("lesion", "normal"):
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = _scan(kind, rng)
            if i < sixteen_bit:
                Image.fromarray(pixels.astype(np.uint16) * 257).save(folder / f"{i:03d}.png")
            else:
                Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")
    return root


def _cfg(train: str, **kw) -> DataConfig:
    return DataConfig(train=train, val_fraction=0.2, test_fraction=0.2, **kw)


def test_folder_of_grayscale_scans_becomes_rgb_splits(tmp_path):
    root = write_scans(tmp_path / "scans")
    (root / "lesion" / "notes.txt").write_text("not an image, ignored")
    splits = prepare_image_data(_cfg(str(root)), PRE, seed=0)
    assert splits.labels == ["lesion", "normal"]
    assert sum(len(s) for s in (splits.train, splits.validation, splits.test)) == 24
    images = splits.train.images
    assert images.dtype == torch.uint8 and tuple(images.shape[1:]) == (3, 24, 24)
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    summary = splits.summary
    assert summary["splits"]["train"]["grayscale"] == len(splits.train)
    assert summary["splits"]["train"]["original_size"]["width"]["max"] == 40
    assert summary["preprocessing"]["size"] == 24


def test_sixteen_bit_scan_is_windowed_to_eight_bits():
    wide = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    rgb = np.asarray(to_rgb_image(wide))
    assert rgb.shape == (10, 10, 3) and rgb.min() == 0 and rgb.max() == 255


def test_corrupt_image_is_an_error_naming_the_file(tmp_path):
    root = write_scans(tmp_path / "scans")
    bad = root / "normal" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"cannot read image '.*broken\.png'.*on_bad_image: skip"):
        prepare_image_data(_cfg(str(root)), PRE, seed=0)


def test_skip_mode_counts_and_names_bad_images(tmp_path):
    root = write_scans(tmp_path / "scans")
    (root / "normal" / "broken.png").write_bytes(b"not a png at all")
    (root / "lesion" / "empty.jpg").write_bytes(b"")
    splits = prepare_image_data(_cfg(str(root), on_bad_image="skip"), PRE, seed=0)
    cleaning = splits.summary["cleaning"]
    assert cleaning["bad_images"] == 2
    assert {p.rsplit("/", 1)[-1] for p in cleaning["bad_image_files"]} == {
        "broken.png",
        "empty.jpg",
    }
    assert any("skipped 2 unreadable images" in w for w in splits.warnings)
    assert sum(len(s) for s in (splits.train, splits.validation, splits.test)) == 24


def test_csv_of_paths_resolves_relative_to_the_file(tmp_path):
    root = write_scans(tmp_path / "scans", per_class=6)
    rows = [
        {"file": f"scans/{p.parent.name}/{p.name}", "diagnosis": p.parent.name}
        for p in sorted(root.rglob("*.png"))
    ]
    rows.append({"file": "scans/normal/000.png", "diagnosis": ""})  # no label: dropped
    table = tmp_path / "index.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    cfg = _cfg(str(table), path_column="file", label_column="diagnosis", dedupe=False)
    splits = prepare_image_data(cfg, PRE, seed=0)
    assert splits.labels == ["lesion", "normal"]
    assert splits.summary["cleaning"]["dropped_missing"] == 1
    assert all(n.startswith(str(tmp_path)) for n in splits.train.names)


def test_missing_path_column_lists_the_columns(tmp_path):
    table = tmp_path / "index.csv"
    table.write_text("image,label\na.png,x\n")
    with pytest.raises(DataError, match="no column 'path'; columns are: image, label"):
        prepare_image_data(_cfg(str(table)), PRE, seed=0)


def test_arrays_from_python_with_a_bad_array_skipped():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (12, 12), dtype=np.uint8) for _ in range(30)]
    images[3] = np.zeros((2, 3, 5, 7))  # not an image
    source = register_image_arrays("unit", images, ["a", "b", "c"] * 10)
    with pytest.raises(DataError, match=r"arrays:unit#3"):
        prepare_image_data(_cfg(source), PRE, seed=0)
    splits = prepare_image_data(_cfg(source, on_bad_image="skip"), PRE, seed=0)
    assert splits.summary["cleaning"]["bad_images"] == 1
    assert splits.labels == ["a", "b", "c"]


def test_splits_are_stratified_seeded_and_deduplicated():
    cfg = DataConfig(train="builtin:digits", max_per_class=20, val_fraction=0.1, test_fraction=0.2)
    first = prepare_image_data(cfg, PRE, seed=3)
    again = prepare_image_data(cfg, PRE, seed=3)
    assert first.train.names == again.train.names
    assert set(first.summary["splits"]["test"]["class_counts"].values()) == {4}
    assert first.summary["duplicates_across_splits"]["train-test"] == 0
    other = prepare_image_data(cfg, PRE, seed=4)
    assert other.train.names != first.train.names


def test_unknown_builtin_lists_the_image_datasets():
    with pytest.raises(DataError, match="builtin:digits, builtin:mnist"):
        prepare_image_data(_cfg("builtin:nope"), PRE, seed=0)


def test_mnist_builtin_is_5000_grayscale_digits():
    from tunelab.data.images import list_source

    entries = list_source("builtin:mnist", "data.train", DataConfig())
    assert len(entries.frame) == 5000 and sorted(entries.frame["label"].unique()) == list(
        "0123456789"
    )
    assert entries.arrays[0].shape == (28, 28) and entries.arrays[0].dtype == np.uint8
