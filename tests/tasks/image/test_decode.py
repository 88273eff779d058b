"""Image decoding: an unreadable file is an error naming it, or skipped and counted."""

from __future__ import annotations

import pytest

from tests.conftest import IMAGE_PRE, image_cfg, write_scans
from tunelab.errors import DataError
from tunelab.tasks.image.data import prepare_image_data


def test_corrupt_image_is_an_error_naming_the_file(tmp_path):
    root = write_scans(tmp_path / "scans")
    bad = root / "normal" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataError, match=r"cannot read image '.*broken\.png'.*on_bad_image: skip"):
        prepare_image_data(image_cfg(str(root)), IMAGE_PRE, seed=0)


def test_skip_mode_counts_and_names_bad_images(tmp_path):
    root = write_scans(tmp_path / "scans")
    (root / "normal" / "broken.png").write_bytes(b"not a png at all")
    (root / "lesion" / "empty.jpg").write_bytes(b"")
    splits = prepare_image_data(image_cfg(str(root), on_bad_image="skip"), IMAGE_PRE, seed=0)
    cleaning = splits.summary["cleaning"]
    assert cleaning["bad_images"] == 2
    assert {p.rsplit("/", 1)[-1] for p in cleaning["bad_image_files"]} == {
        "broken.png",
        "empty.jpg",
    }
    assert any("skipped 2 unreadable images" in w for w in splits.warnings)
    assert sum(len(s) for s in (splits.train, splits.validation, splits.test)) == 24


def test_image_sets_concat_and_take_keep_images_and_metadata_aligned():
    import torch

    from tunelab.tasks.image.decode import ImageSet

    def images(n: int, start: int) -> ImageSet:
        values = torch.arange(start, start + n, dtype=torch.uint8)
        pixels = values.view(n, 1, 1, 1).expand(n, 3, 2, 2)
        names = [f"img{start + i}" for i in range(n)]
        return ImageSet(pixels.clone(), ["x"] * n, names, [2] * n, [2] * n, [False] * n)

    both = images(2, 0).concat(images(3, 10))
    assert len(both) == 5 and both.names == ["img0", "img1", "img10", "img11", "img12"]
    picked = both.take([4, 0])
    assert picked.names == ["img12", "img0"] and picked.images[:, 0, 0, 0].tolist() == [12, 0]
