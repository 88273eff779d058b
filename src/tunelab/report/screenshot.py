"""Screenshot a report with headless Chromium, to check it renders (tests, ``make test``).

A report can be valid HTML and still show a blank page (a broken data URI, CSS hiding
everything); only a real browser tells. This module drives the system Chromium binary
with flags that keep it offline and stateless: a fresh profile each time, no network
services, no GPU.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """Path of the first Chromium-family browser on ``PATH``, or ``None``."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def render_screenshot(
    html_path: str | Path,
    png_path: str | Path,
    window_size: tuple[int, int] = (1280, 2400),
    timeout_s: float = 120.0,
) -> Path:
    """Render ``html_path`` in headless Chromium and save the viewport as ``png_path``.

    Args:
        html_path: the HTML file to open (via ``file://``).
        png_path: where to write the PNG screenshot.
        window_size: viewport width and height in CSS pixels; only this area is captured.
        timeout_s: give up after this many seconds.

    Returns:
        ``png_path`` as a :class:`Path`.

    Raises:
        FileNotFoundError: no Chromium binary is installed.
        RuntimeError: Chromium exited without writing the screenshot.
    """
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError(
            "no chromium binary on PATH; install it (e.g. `apt-get install -y chromium`)"
        )
    target = Path(png_path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tunelab-chromium-") as profile:
        command = [browser, *_flags(profile, target, window_size)]
        command.append(Path(html_path).resolve().as_uri())
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if not target.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"chromium wrote no screenshot (exit {result.returncode}): {detail[0]}")
    return target


def _flags(profile: str, target: Path, window_size: tuple[int, int]) -> list[str]:
    """Headless, sandbox-free (root in CI containers), offline, with a throwaway profile."""
    width, height = window_size
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--screenshot={target}",
        f"--window-size={width},{height}",
    ]
