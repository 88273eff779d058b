"""Image preprocessing: 16-bit scans are scaled to 8 bits."""

from __future__ import annotations

import numpy as np

from tunelab.tasks.image.transforms import to_rgb_image


def test_sixteen_bit_scan_is_windowed_to_eight_bits():
    wide = (np.arange(100, dtype=np.uint16).reshape(10, 10) * 600).astype(np.uint16)
    rgb = np.asarray(to_rgb_image(wide))
    assert rgb.shape == (10, 10, 3) and rgb.min() == 0 and rgb.max() == 255
