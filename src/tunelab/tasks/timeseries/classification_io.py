"""Shipping a series classifier: predictor, ``model/`` directory, predict inputs, evaluate.

The ``model/`` directory holds ``config.json`` (the backbone's HF config),
``model.safetensors`` (the whole classifier; LoRA adapters are merged first) and
``tunelab_model.json`` with the labels and the preprocessing prediction repeats
(resampling length, per-series normalisation, channel count).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.errors import DataError
from tunelab.tasks.classification import HeadConfig, Prediction, predictions
from tunelab.tasks.timeseries.model_dir import load_series_weights, save_series_model
from tunelab.tasks.timeseries.series import fill_missing, resample, z_normalize


def parse_series_text(text: str, channels: int) -> np.ndarray:
    """``"1,2,3"`` (channels separated by ``:``, ``?`` missing) as ``[C, T]``.

    Raises:
        ValueError: a value that is not a number, or the wrong number of channels.
    """
    parts = [p for p in text.strip().split(":")]
    if len(parts) != channels:
        raise ValueError(f"{len(parts)} channels given, the model reads {channels} (use ':')")
    rows = []
    for part in parts:
        values = [v.strip() for v in part.split(",") if v.strip()]
        if not values:
            raise ValueError("empty series")
        try:
            rows.append([np.nan if v == "?" else float(v) for v in values])
        except ValueError:
            raise ValueError(f"not a comma-separated list of numbers: '{part[:30]}'") from None
    width = max(len(r) for r in rows)
    return np.array([r + [np.nan] * (width - len(r)) for r in rows], dtype=np.float32)


def as_series(item: Any, channels: int) -> np.ndarray:
    """One input (text, list, ``[T]`` or ``[C, T]`` array) as ``[C, T]`` float32."""
    if isinstance(item, str):
        return parse_series_text(item, channels)
    values = np.asarray(item, dtype=np.float32)
    values = values[None] if values.ndim == 1 else values
    if values.ndim != 2 or values.shape[0] != channels:
        raise ValueError(f"expected {channels} channel(s) x time, got shape {values.shape}")
    return values


class SeriesPredictor:
    """A trained series classifier with the preprocessing it was trained with."""

    def __init__(self, model, labels: list[str], length: int, normalize: bool, channels: int,
                 device: str | torch.device = "cpu") -> None:  # fmt: skip
        self.model = model.to(device).eval()
        self.labels, self.length, self.normalize = labels, length, normalize
        self.channels, self.device = channels, torch.device(device)

    def prepare(self, item: Any) -> np.ndarray:
        """Missing values filled, resampled and normalised as in training."""
        values = resample(fill_missing(as_series(item, self.channels))[0], self.length)
        return z_normalize(values) if self.normalize else values

    @torch.inference_mode()
    def predict_proba(self, items: Sequence[Any], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities, one row per series."""
        prepared = np.stack([self.prepare(x) for x in items]) if len(items) else None
        out = torch.empty(len(items), len(self.labels))
        for start in range(0, len(items), batch_size):
            chunk = torch.from_numpy(prepared[start : start + batch_size]).transpose(1, 2)
            out[start : start + len(chunk)] = (
                self.model(past_values=chunk.to(self.device)).float().softmax(-1).cpu()
            )
        return out

    def predict(self, items: Any) -> list[Prediction]:
        """Label and per-label probabilities of each series (one series or a list)."""
        if isinstance(items, str) or (isinstance(items, np.ndarray) and items.ndim <= 2):
            items = [items]
        items = list(items)
        return predictions(self.labels, self.predict_proba(items)) if items else []

    def predict_records(self, records: Sequence[dict]) -> list[dict]:
        """Each record with its prediction; an unreadable series gets an ``error``."""
        out = [dict(r) for r in records]
        ready = []
        for record in out:
            if "error" in record:
                continue
            try:
                self.prepare(record["series"])
                ready.append(record)
            except ValueError as err:
                record["error"] = f"series: {err}"
        if ready:
            found = predictions(self.labels, self.predict_proba([r["series"] for r in ready]))
            for record, prediction in zip(ready, found, strict=True):
                record.update(prediction.to_dict())
        return out


def save_classifier(model_dir: Path, model, splits, cfg) -> Path:
    """Write ``model/`` with the labels and the preprocessing prediction repeats."""
    fields = {
        "labels": splits.labels,
        "length": splits.length,
        "channels": splits.channels,
        "normalize": cfg.data.normalize == "per_series",
        "head": cfg.model.head.model_dump(),
    }
    return save_series_model(model_dir, model, cfg, fields)


def load_classifier(model_dir: Path, card: dict, device: str = "cpu") -> SeriesPredictor:
    """Rebuild a saved series classifier as a predictor."""
    from tunelab.tasks.timeseries.backbone import load_backbone
    from tunelab.tasks.timeseries.model import SeriesClassifier

    backbone = load_backbone(model_dir, pretrained=False, channels=card["channels"])
    model = SeriesClassifier(
        backbone, card["channels"], len(card["labels"]), HeadConfig(**card["head"])
    )
    load_series_weights(model, model_dir)
    return SeriesPredictor(
        model, card["labels"], card["length"], card["normalize"], card["channels"], device
    )


def read_series_inputs(arguments: list[str], input_file: Path | None, label_column: str) -> list:
    """``{"series": text}`` per argument, then ``{"row": N, "series": [[...]]}`` per
    series of a ``.ts`` file or wide CSV, or ``{"line": N, "series": text}`` per line
    of a ``.txt``."""
    from tunelab.io import read_line_records
    from tunelab.tasks.timeseries.readers import read_labelled

    records: list[dict] = [{"series": text} for text in arguments]
    if input_file is None:
        return records
    path = Path(input_file)
    if path.suffix.lower() == ".txt":
        return records + read_line_records(
            path, "series", "empty series", "pass a .txt with one comma-separated series a line"
        )
    if not path.is_file():
        raise DataError(f"--input {path}: file not found; pass a .ts, wide .csv or .txt")
    found = read_labelled(str(path), "--input", label_column)
    return records + [
        {"row": n, "series": values.tolist()} for n, values in enumerate(found.series, start=1)
    ]


def evaluate_series(predictor: SeriesPredictor, source: str, label_column: str) -> dict:
    """Metrics of a run's model on a labelled ``.ts`` / wide CSV / ``builtin:`` source.

    Raises:
        DataError: unreadable source, or labels the model was never trained on.
    """
    from tunelab.metrics import classification_metrics, measure_latency
    from tunelab.tasks.timeseries.readers import read_labelled

    found = read_labelled(source, "--data", label_column)
    unknown = sorted(set(found.labels) - set(predictor.labels))
    if unknown:
        raise DataError(
            f"--data {source}: label '{unknown[0]}' was not seen in training "
            f"(known: {', '.join(predictor.labels)}); remove those series"
        )
    probs = predictor.predict_proba(found.series)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics(
        [ids[v] for v in found.labels], probs.argmax(-1).tolist(), predictor.labels
    )
    metrics.update(measure_latency(lambda s: predictor.predict_proba([s]), found.series[:50]))
    metrics["n"] = len(found)
    return metrics
