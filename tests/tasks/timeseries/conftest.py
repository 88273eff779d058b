"""Tiny random-init PatchTST / PatchTSMixer directories saved with ``save_pretrained``
(the path a user's checkpoint takes), and small synthetic series files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CONTEXT = 32


def tiny_config(kind: str = "patchtst"):
    from transformers import PatchTSMixerConfig, PatchTSTConfig

    common = dict(
        num_input_channels=1, context_length=CONTEXT, patch_length=8, patch_stride=8,
        d_model=16, scaling="std",
    )  # fmt: skip
    if kind == "patchtsmixer":
        return PatchTSMixerConfig(**common, num_layers=2)
    return PatchTSTConfig(
        **common, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
        norm_type="layernorm", use_cls_token=False,
    )  # fmt: skip


def save_tiny(path: Path, kind: str = "patchtst") -> Path:
    import torch
    from transformers import PatchTSMixerModel, PatchTSTModel

    torch.manual_seed(0)
    cls = PatchTSTModel if kind == "patchtst" else PatchTSMixerModel
    cls(tiny_config(kind)).save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_patchtst(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-patchtst"))


@pytest.fixture(scope="session")
def tiny_mixer(tmp_path_factory) -> Path:
    return save_tiny(tmp_path_factory.mktemp("tiny-mixer"), "patchtsmixer")


def make_waves(n: int, seed: int = 0, length: int = 40) -> tuple[list[np.ndarray], list[str]]:
    """Two classes told apart by frequency: sine at 1 or 3 cycles, with noise."""
    rng = np.random.default_rng(seed)
    series, labels = [], []
    for i in range(n):
        cycles = 1 if i % 2 == 0 else 3
        t = np.linspace(0, 2 * np.pi * cycles, length)
        series.append((np.sin(t + rng.uniform(0, 1)) + 0.1 * rng.normal(size=length))[None])
        labels.append("slow" if cycles == 1 else "fast")
    return series, labels


def write_ts(path: Path, series: list[np.ndarray], labels: list[str]) -> Path:
    """A ``.ts`` file as sktime writes them (``?`` for NaN, ``:`` between channels)."""
    lines = [
        "# synthetic", "@problemName waves", "@timeStamps false", "@missing true",
        f"@univariate {'true' if series[0].shape[0] == 1 else 'false'}",
        "@equalLength false", f"@classLabel true {' '.join(sorted(set(labels)))}", "@data",
    ]  # fmt: skip
    for values, label in zip(series, labels, strict=True):
        channels = [",".join("?" if np.isnan(v) else f"{v:.5f}" for v in c) for c in values]
        lines.append(":".join(channels) + f":{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_wide(path: Path, series: list[np.ndarray], labels: list[str]) -> Path:
    frame = pd.DataFrame([s[0] for s in series])
    frame.insert(0, "label", labels)
    frame.to_csv(path, index=False)
    return path


def make_long(n: int = 120, seed: int = 0, period: int = 12) -> pd.DataFrame:
    """A monthly series with trend and a yearly season."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + 0.05 * t + 2 * np.sin(2 * np.pi * t / period) + 0.2 * rng.normal(size=n)
    dates = pd.date_range("2000-01-01", periods=n, freq="MS")
    return pd.DataFrame({"date": dates, "value": values})


def make_anomalous(n: int = 240, seed: int = 0, at: tuple[int, ...] = ()) -> pd.DataFrame:
    """A noisy sine (period 16) in TimeEval's columns; points ``at`` get a +4 spike and
    the label 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.sin(2 * np.pi * t / 16) + 0.05 * rng.normal(size=n)
    labels = np.zeros(n, dtype=int)
    labels[list(at)] = 1
    values[list(at)] += 4.0
    return pd.DataFrame({"timestamp": t, "value": values, "is_anomaly": labels})
