"""A real browser renders the report: the screenshot is not blank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tunelab.report import screenshot

needs_chromium = pytest.mark.skipif(
    screenshot.find_chromium() is None,
    reason="no chromium binary on PATH (install Debian `chromium` to run the browser check)",
)


def assert_not_blank(png: Path) -> None:
    """Enough distinct colours and contrast that something readable was drawn."""
    image = Image.open(png).convert("RGB")
    pixels = np.asarray(image, dtype=np.int64)
    assert image.size == (1280, 2400)
    assert pixels.std() > 20, "screenshot is nearly uniform"
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 50, "too few colours"
    dark = (pixels.mean(axis=2) < 80).mean()
    assert 0.01 < dark < 0.6, f"{dark:.1%} dark pixels: text or header missing"


@needs_chromium
def test_run_report_screenshot_is_not_blank(run_report: Path, tmp_path: Path) -> None:
    png = screenshot.render_screenshot(run_report, tmp_path / "run.png")
    assert_not_blank(png)


@needs_chromium
def test_compare_report_screenshot_is_not_blank(compare_report: Path, tmp_path: Path) -> None:
    png = screenshot.render_screenshot(compare_report, tmp_path / "compare.png")
    assert_not_blank(png)


def test_missing_browser_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(screenshot.shutil, "which", lambda name: None)
    assert screenshot.find_chromium() is None
    with pytest.raises(FileNotFoundError, match="chromium"):
        screenshot.render_screenshot(tmp_path / "r.html", tmp_path / "r.png")
