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


# --- EXIF orientation ---------------------------------------------------------------------

ORIENTATION = 0x0112


def _upright():
    """A 30 x 20 image no rotation or flip maps onto itself: a red block top-left."""
    import numpy as np
    from PIL import Image

    pixels = np.zeros((20, 30, 3), dtype=np.uint8)
    pixels[..., 2] = np.linspace(0, 250, 30, dtype=np.uint8)  # blue ramp left to right
    pixels[:8, :12] = (255, 0, 0)
    return Image.fromarray(pixels)


def _save_as_camera_does(upright, path, fmt: str) -> None:
    """Store the pixels turned 90 degrees counter-clockwise, tagged Orientation=6.

    Orientation 6 tells a viewer "rotate 90 degrees clockwise to display", which is what
    a phone held upright writes.
    """
    from PIL import Image

    exif = Image.Exif()
    exif[ORIENTATION] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(path, format=fmt, exif=exif, quality=95)


def test_exif_orientation_is_applied_when_opening(tmp_path):
    import numpy as np

    from tunelab.tasks.image.decode import open_image

    upright = _upright()
    path = tmp_path / "photo.png"
    _save_as_camera_does(upright, path, "PNG")
    opened = open_image(str(path))
    assert opened.size == (30, 20)
    np.testing.assert_array_equal(np.asarray(opened), np.asarray(upright))


def test_exif_orientation_is_applied_to_jpeg_photos(tmp_path):
    import numpy as np

    from tunelab.tasks.image.decode import open_image

    upright = _upright()
    path = tmp_path / "photo.jpg"
    _save_as_camera_does(upright, path, "JPEG")
    opened = np.asarray(open_image(str(path)), dtype=np.int16)
    assert opened.shape == (20, 30, 3)
    assert np.abs(opened - np.asarray(upright, dtype=np.int16)).mean() < 3  # JPEG loss only


def test_training_decodes_exif_rotated_photos_upright(tmp_path):
    import numpy as np
    import pandas as pd

    from tunelab.tasks.image.decode import DecodeReport, decode_entries
    from tunelab.tasks.image.sources import ImageEntries

    upright = _upright()
    upright.save(tmp_path / "upright.png")
    _save_as_camera_does(upright, tmp_path / "rotated.png", "PNG")
    paths = [str(tmp_path / "upright.png"), str(tmp_path / "rotated.png")]
    entries = ImageEntries(pd.DataFrame({"image": paths, "label": ["a", "a"]}), "test")
    decoded = decode_entries(entries, IMAGE_PRE, "error", "data.train", DecodeReport())
    assert (decoded.widths, decoded.heights) == ([30, 30], [20, 20])
    np.testing.assert_array_equal(decoded.images[1].numpy(), decoded.images[0].numpy())
