"""Image sources: path tables, Python arrays, packaged datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import IMAGE_PRE, image_cfg, write_scans
from tunelab.errors import DataError
from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.data import prepare_image_data
from tunelab.tasks.image.sources import register_image_arrays


def test_csv_of_paths_resolves_relative_to_the_file(tmp_path):
    root = write_scans(tmp_path / "scans", per_class=6)
    rows = [
        {"file": f"scans/{p.parent.name}/{p.name}", "diagnosis": p.parent.name}
        for p in sorted(root.rglob("*.png"))
    ]
    rows.append({"file": "scans/normal/000.png", "diagnosis": ""})  # no label: dropped
    table = tmp_path / "index.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    cfg = image_cfg(str(table), path_column="file", label_column="diagnosis", dedupe=False)
    splits = prepare_image_data(cfg, IMAGE_PRE, seed=0)
    assert splits.labels == ["lesion", "normal"]
    assert splits.summary["cleaning"]["dropped_missing"] == 1
    assert all(n.startswith(str(tmp_path)) for n in splits.train.names)


def test_missing_path_column_lists_the_columns(tmp_path):
    table = tmp_path / "index.csv"
    table.write_text("image,label\na.png,x\n")
    with pytest.raises(DataError, match="no column 'path'; columns are: image, label"):
        prepare_image_data(image_cfg(str(table)), IMAGE_PRE, seed=0)


def test_arrays_from_python_with_a_bad_array_skipped():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (12, 12), dtype=np.uint8) for _ in range(30)]
    images[3] = np.zeros((2, 3, 5, 7))  # not an image
    source = register_image_arrays("unit", images, ["a", "b", "c"] * 10)
    with pytest.raises(DataError, match=r"arrays:unit#3"):
        prepare_image_data(image_cfg(source), IMAGE_PRE, seed=0)
    splits = prepare_image_data(image_cfg(source, on_bad_image="skip"), IMAGE_PRE, seed=0)
    assert splits.summary["cleaning"]["bad_images"] == 1
    assert splits.labels == ["a", "b", "c"]


def test_unknown_builtin_lists_the_image_datasets():
    with pytest.raises(DataError, match="builtin:digits, builtin:mnist"):
        prepare_image_data(image_cfg("builtin:nope"), IMAGE_PRE, seed=0)


def test_mnist_builtin_is_5000_grayscale_digits():
    from tunelab.tasks.image.sources import list_source

    entries = list_source("builtin:mnist", "data.train", ImageDataConfig())
    assert len(entries.frame) == 5000 and sorted(entries.frame["label"].unique()) == list(
        "0123456789"
    )
    assert entries.arrays[0].shape == (28, 28) and entries.arrays[0].dtype == np.uint8
