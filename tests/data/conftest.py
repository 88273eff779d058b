"""Shared helpers for the data tests: small files written into ``tmp_path``, and the
preprocessing and ``data`` section the image tests share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tunelab.config import DataConfig
from tunelab.data.image_transforms import ImagePreprocessing

IMAGE_PRE = ImagePreprocessing(24, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], str]:
    """Write text (UTF-8, newlines kept as given) or bytes; return the path as a string."""

    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return str(path)

    return write


@pytest.fixture
def write_rows(tmp_path: Path) -> Callable[..., str]:
    """Write ``(text, label)`` rows as a CSV with a ``text,label`` header; return the path."""

    def write(name: str, rows: list[tuple[object, object]], columns=("text", "label")) -> str:
        path = tmp_path / name
        pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
        return str(path)

    return write


def image_cfg(train: str, **kw) -> DataConfig:
    """An image ``data`` section on ``train`` with 20% validation and 20% test."""
    return DataConfig(train=train, val_fraction=0.2, test_fraction=0.2, **kw)
