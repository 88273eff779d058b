"""Self-training on images: the unlabelled folder's readers and a run on the tiny CNN."""

from __future__ import annotations

import shutil

import pytest

import tunelab
from tests.conftest import IMAGE_PRE, TINY_CNN, image_cfg, write_scans
from tunelab.errors import DataError
from tunelab.tasks.image.unlabeled import read_unlabeled_images


def _flat(scans, root):
    """The scans' images in one folder, no class sub-folders (labels unknown)."""
    root.mkdir()
    for image in sorted(scans.rglob("*.png")):
        shutil.copy(image, root / f"{image.parent.name}-{image.name}")
    return root


def test_a_flat_folder_is_unlabelled_and_class_folders_keep_their_labels(tmp_path):
    scans = write_scans(tmp_path / "scans", per_class=3, seed=1)
    flat = read_unlabeled_images(image_cfg("x"), IMAGE_PRE, str(_flat(scans, tmp_path / "flat")))
    assert len(flat) == 6 and flat.labels == [None] * 6
    labelled = read_unlabeled_images(image_cfg("x"), IMAGE_PRE, str(scans))
    assert sorted(labelled.labels) == ["lesion"] * 3 + ["normal"] * 3


def test_a_path_table_without_labels_is_read(tmp_path):
    scans = write_scans(tmp_path / "scans", per_class=2, seed=1)
    table = tmp_path / "pool.csv"
    rows = [str(p.relative_to(tmp_path)) for p in sorted(scans.rglob("*.png"))]
    table.write_text("path\n" + "\n".join(rows) + "\n")
    pool = read_unlabeled_images(image_cfg("x"), IMAGE_PRE, str(table))
    assert len(pool) == 4 and pool.labels == [None] * 4


@pytest.mark.parametrize("make", ["empty-folder", "missing", "not-an-image"])
def test_an_unusable_image_pool_is_a_data_error(tmp_path, make):
    source = tmp_path / "pool"
    if make == "empty-folder":
        source.mkdir()
    elif make == "not-an-image":
        source.mkdir()
        (source / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="data.unlabeled"):
        read_unlabeled_images(image_cfg("x"), IMAGE_PRE, str(source))


def test_an_image_run_self_trains_on_a_folder(tmp_path):
    scans = write_scans(tmp_path / "scans", per_class=12)
    pool = write_scans(tmp_path / "pool", per_class=10, seed=5, sixteen_bit=0)
    config = {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {
            "train": str(scans),
            "val_fraction": 0.25,
            "test_fraction": 0.25,
            "unlabeled": str(pool),
        },  # fmt: skip
        "strategy": {"name": "feature_extraction", "head_solver": "adamw", "head_epochs": 4},
        "train": {"seed": 0, "device": "cpu", "head_lr": 1e-2},
        "self_training": {"rounds": 2, "min_confidence": 0.0, "max_per_round": 4},
    }
    result = tunelab.fine_tune(config, tmp_path / "run")
    record = result.metrics["self_training"]
    assert record["pool"] == 20 and record["labels_in_source"]
    rounds = record["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    for added in rounds[1:]:
        assert added["accepted"] <= 4  # max_per_round, 2 per class (balanced labelled set)
        assert all(n <= 2 for n in added["accepted_per_class"].values())
        assert added["checked"] == added["accepted"]
    best = rounds[record["best_round"]]
    assert result.metrics["validation"]["f1_macro"] == pytest.approx(best["val_f1_macro"])
