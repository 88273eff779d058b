"""Labelled series in, training windows and scored parts out, for anomaly detection.

The field's semi-supervised setting (the UCR / KDD-TSAD archive): the model learns what
normal looks like from ``data.train``, the validation part (``data.validation``, or
the last ``val_fraction`` of ``data.train``) sets the threshold, and every point of the
labelled test series is scored. A window's context is the ``context`` points before
its origin; its target is the ``horizon`` points from the origin
(``score: forecast``) or the context itself (``score: reconstruction``). Training
windows whose target touches a labelled anomaly are left out, so the model never
learns to predict one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunelab.errors import DataError
from tunelab.tasks.timeseries.config import AnomalyConfig, AnomalyDataConfig
from tunelab.tasks.timeseries.forecast_data import Windows, windows_of
from tunelab.tasks.timeseries.readers import BUILTIN, data_folders
from tunelab.tasks.timeseries.series import fill_missing


@dataclass
class Stream:
    """One labelled univariate series and the points ``[start, end)`` a split scores
    (contexts may reach back before ``start``)."""

    values: np.ndarray
    labels: np.ndarray
    start: int
    end: int

    @property
    def scored_labels(self) -> np.ndarray:
        return self.labels[self.start : self.end]


@dataclass
class AnomalySplits:
    """Windows per split for the trainer, the scored streams, and the data summary."""

    train: Windows
    validation: Windows
    test: Windows
    validation_stream: Stream
    test_stream: Stream
    context: int
    horizon: int  # outputs per window: ``anomaly.horizon``, or ``context`` to reconstruct
    score: str
    summary: dict[str, Any]
    warnings: list[str]
    labels: list[str] = field(default_factory=list)  # no classes; read by generic code
    # The model's scores of ``validation_stream`` by (weights digest, device), kept by
    # :func:`.anomaly_scores.validation_scores`: the end of a run reads them three times.
    scored: dict[tuple[str, str], np.ndarray] = field(default_factory=dict, repr=False)


def builtin_csv_path(name: str, key: str) -> Path:
    """aeon's ``<Folder>/*_<SPLIT>.csv`` for ``builtin:<Folder>_<SPLIT>``.

    Raises:
        DataError: no such file in the installed data packages.
    """
    folder, _, split = name.removeprefix(BUILTIN).rpartition("_")
    for root in data_folders():
        found = sorted((root / folder).glob(f"*_{split}.csv"))
        if found:
            return found[0]
    raise DataError(
        f"{key} '{name}': no shipped {folder}/*_{split}.csv; pip install --no-deps "
        "aeon==1.6.0 (KDD-TSAD_135), or pass a CSV with time, value and label columns"
    )


def read_stream(
    source: str, key: str, cfg: AnomalyDataConfig, need_labels: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """Values, 0/1 labels (zeros when the file has none) and missing values filled.

    Raises:
        DataError: no file, a missing column, non-0/1 labels, or missing values with
            ``data.missing: error``.
    """
    path = builtin_csv_path(source, key) if source.startswith(BUILTIN) else Path(source)
    if not path.is_file():
        raise DataError(f"{key} '{source}': file not found; pass a CSV (time, value, label)")
    frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    needed = [c for c in (cfg.time_column, cfg.target_column) if c]
    needed += [cfg.label_column] if need_labels else []
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise DataError(
            f"{key} '{source}': no column '{absent[0]}' (columns: "
            f"{', '.join(map(str, frame.columns[:8]))}); set data.time_column / "
            "data.target_column / data.label_column"
        )
    if cfg.time_column:
        frame = frame.sort_values(cfg.time_column, kind="stable")
    values = pd.to_numeric(frame[cfg.target_column], errors="coerce").to_numpy(np.float32)
    filled, missing = fill_missing(values[None])
    if missing and cfg.missing == "error":
        raise DataError(
            f"{key} '{source}': {missing} missing values; set data.missing: interpolate"
        )
    return filled[0], _labels(frame, cfg.label_column, key, source), missing


def _labels(frame: pd.DataFrame, column: str, key: str, source: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int8)
    labels = pd.to_numeric(frame[column], errors="coerce")
    if not labels.isin([0, 1]).all():
        raise DataError(f"{key} '{source}': column '{column}' must hold only 0 and 1")
    return labels.to_numpy(np.int8)


def min_past(context: int) -> int:
    """Points a forecast needs before it: fewer say too little of what is normal (their
    spread is near 0, so any change looks huge); earlier points are not scored."""
    return max(2, context // 4)


def scoring_origins(length: int, start: int, end: int, context: int, score: str, horizon: int):
    """Origins of the windows whose targets cover points ``[start, end)`` of a series."""
    if score == "reconstruction":  # a window reconstructs the ``context`` points before it
        return list(range(max(start + 1, min(context, length)), min(end + context - 1, length) + 1))
    first = max(start - horizon + 1, min_past(context))
    return list(range(first, min(end, length - horizon + 1)))


def anomaly_windows(values: np.ndarray, origins: list[int], context: int, score: str,
                    horizon: int) -> Windows:  # fmt: skip
    """Windows at ``origins``; to reconstruct, a window's target is its own context."""
    if score == "forecast":
        return windows_of(values, origins, context, horizon, 1.0, "")
    found = windows_of(np.concatenate([values, [0.0]]), origins, context, 1, 1.0, "")
    found.future = found.context.copy()
    return found


def training_origins(stream: Stream, cfg: AnomalyConfig, context: int) -> list[int]:
    """Strided origins whose targets lie in ``[start, end)`` and touch no labelled anomaly."""
    width = context if cfg.score == "reconstruction" else cfg.horizon
    first = context if cfg.score == "reconstruction" else min_past(context)
    out = []
    for origin in range(first, stream.end - (0 if cfg.score == "reconstruction" else width) + 1,
                        cfg.window_stride):  # fmt: skip
        low = origin - width if cfg.score == "reconstruction" else origin
        if not stream.labels[low : low + width].any():
            out.append(origin)
    return out


def prepare_anomaly_data(
    data: AnomalyDataConfig, settings: AnomalyConfig, context: int
) -> AnomalySplits:
    """Training, validation and test parts of the labelled series, as windows and streams.

    Raises:
        DataError: no ``data.train``, a test part without labels or anomalies, or a
            training part too short for one window.
    """
    if not data.train:
        raise DataError("data.train is not set; give a labelled CSV or builtin:KDD-TSAD_135_TRAIN")
    values, labels, missing = read_stream(data.train, "data.train", data, need_labels=False)
    if data.test:
        test_values, test_labels, test_missing = read_stream(data.test, "data.test", data, True)
        test = Stream(test_values, test_labels, 0, len(test_values))
        missing += test_missing
    else:
        cut = int(len(values) * (1 - data.test_fraction))
        test = Stream(values, labels, cut, len(values))
        values, labels = values[:cut], labels[:cut]
    if not test.scored_labels.any():
        raise DataError(
            f"{data.test or 'data.train'}: the test part has no labelled anomaly "
            f"('{data.label_column}' = 1); give data.test with labels"
        )
    train, validation = _train_and_validation(values, labels, data)
    split = train.end
    width = context if settings.score == "reconstruction" else settings.horizon
    origins = training_origins(train, settings, context)
    if not origins:
        raise DataError(
            f"data.train: {split} training points leave no window of {context} + {width}; "
            "give a longer series or a backbone with a shorter context"
        )
    parts = {"train": anomaly_windows(values, origins, context, settings.score, settings.horizon)}
    for name, stream in (("validation", validation), ("test", test)):
        found = scoring_origins(len(stream.values), stream.start, stream.end, context,
                                settings.score, settings.horizon)  # fmt: skip
        parts[name] = anomaly_windows(stream.values, found, context, settings.score,
                                      settings.horizon)  # fmt: skip
    summary, warnings = _summary(parts, validation, test, missing, settings)
    return AnomalySplits(**parts, validation_stream=validation, test_stream=test,
                         context=context, horizon=width, score=settings.score,
                         summary=summary, warnings=warnings)  # fmt: skip


def _train_and_validation(
    values: np.ndarray, labels: np.ndarray, data: AnomalyDataConfig
) -> tuple[Stream, Stream]:
    """``data.validation`` whole, or the last ``val_fraction`` of the training series."""
    if data.validation:
        found, found_labels, _ = read_stream(data.validation, "data.validation", data, False)
        return Stream(values, labels, 0, len(values)), Stream(found, found_labels, 0, len(found))
    split = int(len(values) * (1 - data.val_fraction))
    return Stream(values, labels, 0, split), Stream(values, labels, split, len(values))


def _summary(parts, validation: Stream, test: Stream, missing: int, settings: AnomalyConfig):
    """``data_summary.json``: windows per split, scored points and labelled anomalies."""
    from tunelab.tasks.timeseries.anomaly_metrics import segments

    warnings = [f"{missing} missing values filled by linear interpolation"] if missing else []
    if validation.scored_labels.any():
        warnings.append(
            "the validation part holds labelled anomalies; its quantile sets the threshold"
        )
    summary = {
        "labels": [],
        "splits": {name: {"n": len(w)} for name, w in parts.items()},
        "anomaly": {
            "score": settings.score,
            "validation_points": validation.end - validation.start,
            "test_points": test.end - test.start,
            "test_anomalous_points": int(test.scored_labels.sum()),
            "test_segments": len(segments(test.scored_labels)),
            "missing_values": missing,
        },
        "warnings": warnings,
    }
    return summary, warnings
