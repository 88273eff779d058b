"""A long table in, univariate series and forecasting windows out.

Every (series id, value column) pair is one univariate series. The test window is the
last ``forecast.horizon`` points of each series (or, with ``data.test``, the first
``horizon`` points that follow it there); validation windows roll over the
``forecast.validation_windows`` origins whose targets end where the test window starts;
training targets end before the first validation origin. A window's context
is the ``context`` points before its origin, left-padded (and marked unobserved) near
the start of a series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tunelab.errors import DataError
from tunelab.tasks.timeseries.config import ForecastConfig, ForecastDataConfig
from tunelab.tasks.timeseries.forecast_metrics import mase_scale
from tunelab.tasks.timeseries.readers import read_long
from tunelab.tasks.timeseries.series import fill_missing

SEASONS = {"M": 12, "Q": 4, "W": 52, "D": 7, "B": 5, "H": 24, "h": 24, "A": 1, "Y": 1}


@dataclass
class Series:
    """One univariate series: its name, values before the test window, and the test
    window's true values."""

    name: str
    history: np.ndarray
    future: np.ndarray
    scale: float = 1.0


@dataclass
class Windows:
    """Forecasting examples: ``context`` / ``observed`` ``[N, L]``, ``future`` ``[N, H]``,
    ``scale`` ``[N]`` (the series' MASE scale) and which series each came from."""

    context: np.ndarray
    observed: np.ndarray
    future: np.ndarray
    scale: np.ndarray
    series: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.future)

    def targets(self) -> np.ndarray:
        """``[N, H + 3]``: the future in the context's standardised units, then the
        context's ``loc`` and ``scale`` (to undo that) and the series' MASE scale."""
        import torch

        from tunelab.tasks.timeseries.model import window_loc_scale

        loc, scale = (
            t.numpy()
            for t in window_loc_scale(
                torch.from_numpy(self.context), torch.from_numpy(self.observed)
            )
        )
        future = (self.future - loc) / scale
        return np.concatenate([future, loc, scale, self.scale[:, None]], axis=1).astype(np.float32)


@dataclass
class ForecastSplits:
    """Train / validation / test windows, the series, and the data summary."""

    train: Windows
    validation: Windows
    test: Windows
    series: list[Series]
    horizon: int
    season: int
    context: int
    summary: dict[str, Any]
    warnings: list[str]
    labels: list[str] = field(default_factory=list)  # no classes; read by generic code


def read_series(
    source: str, key: str, cfg: ForecastDataConfig
) -> tuple[dict[str, np.ndarray], str | None, int]:
    """``{name: values}`` of a long table, its inferred frequency, and missing values filled.

    Raises:
        DataError: a missing column, an unparseable time, or missing values with
            ``data.missing: error``.
    """
    frame = read_long(source, key)
    targets = [cfg.target_column] if isinstance(cfg.target_column, str) else cfg.target_column
    needed = [cfg.time_column, *targets, *([cfg.series_column] if cfg.series_column else [])]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise DataError(
            f"{key} '{source}': no column '{absent[0]}' (columns: "
            f"{', '.join(map(str, frame.columns[:8]))}); set data.time_column / "
            "data.target_column / data.series_column"
        )
    frame = frame.copy()
    if frame[cfg.time_column].dtype.kind not in "iuf":
        try:
            frame[cfg.time_column] = pd.to_datetime(frame[cfg.time_column])
        except (ValueError, TypeError):
            raise DataError(
                f"{key} '{source}': column '{cfg.time_column}' is not a date/time; "
                "give ISO dates or numbers"
            ) from None
    groups = frame.groupby(cfg.series_column, sort=True) if cfg.series_column else [("", frame)]
    out: dict[str, np.ndarray] = {}
    frequency, missing = None, 0
    for group, part in groups:
        part = part.sort_values(cfg.time_column).set_index(cfg.time_column)[targets]
        part = part.apply(pd.to_numeric, errors="coerce")
        if cfg.resample:
            part = part.resample(cfg.resample).mean()
        if frequency is None and isinstance(part.index, pd.DatetimeIndex) and len(part) > 2:
            frequency = cfg.resample or pd.infer_freq(part.index)
        for column in targets:
            values, count = fill_missing(part[column].to_numpy(np.float32)[None])
            if count and cfg.missing == "error":
                raise DataError(
                    f"{key} '{source}': column '{column}' has {count} missing values; "
                    "set data.missing: interpolate"
                )
            missing += count
            out[_name(group, column, len(targets))] = values[0]
    return out, frequency, missing


def _name(group: Any, column: str, columns: int) -> str:
    if group == "":
        return column
    return f"{group}/{column}" if columns > 1 else str(group)


def season_length(frequency: str | None) -> int:
    """Points per season for a pandas frequency (``MS`` -> 12, ``QS-OCT`` -> 4...)."""
    if not frequency:
        return 1
    letters = frequency.split("-")[0].lstrip("0123456789").rstrip("SE") or frequency
    return SEASONS.get(letters[:1], 1)


def windows_of(
    values: np.ndarray, origins: list[int], context: int, horizon: int, scale: float, name: str
) -> Windows:
    """Windows of ``values`` at each origin (the first forecast point's index)."""
    ctx = np.zeros((len(origins), context), dtype=np.float32)
    observed = np.zeros_like(ctx)
    future = np.zeros((len(origins), horizon), dtype=np.float32)
    for i, origin in enumerate(origins):
        past = values[max(0, origin - context) : origin]
        ctx[i, context - len(past) :] = past
        ctx[i, : context - len(past)] = past[0]  # padding: the first value, unobserved
        observed[i, context - len(past) :] = 1.0
        future[i] = values[origin : origin + horizon]
    return Windows(ctx, observed, future, np.full(len(origins), scale), [name] * len(origins))


def concat(windows: list[Windows]) -> Windows:
    return Windows(
        np.concatenate([w.context for w in windows]),
        np.concatenate([w.observed for w in windows]),
        np.concatenate([w.future for w in windows]),
        np.concatenate([w.scale for w in windows]),
        [name for w in windows for name in w.series],
    )


def prepare_forecast_data(
    data: ForecastDataConfig, forecast: ForecastConfig, context: int
) -> ForecastSplits:
    """Series, their test / validation windows and the training windows before them.

    Raises:
        DataError: no ``data.train``, or a series too short for a training window.
    """
    if not data.train:
        raise DataError("data.train is not set; give a long CSV or builtin:co2")
    horizon = forecast.horizon
    found, frequency, missing = read_series(data.train, "data.train", data)
    test_found = read_series(data.test, "data.test", data)[0] if data.test else None
    season = forecast.season_length or season_length(frequency)
    series, parts = [], {"train": [], "validation": [], "test": []}
    for name, values in found.items():
        if test_found is not None:
            history, future = values, test_found.get(name, np.array([]))[:horizon]
        else:
            history, future = values[:-horizon], values[-horizon:]
        if len(future) < horizon or len(history) < 2 * horizon + 2:
            raise DataError(
                f"series '{name}': {len(values)} points leave no training window for "
                f"forecast.horizon {horizon}; lower the horizon (at most about a third)"
            )
        scale = mase_scale(history, season)
        series.append(Series(name, history, future, scale))
        end = len(history) - horizon  # the last validation window starts here
        rolling = forecast.validation_windows
        count = rolling if len(history) >= 4 * horizon + rolling else 1
        validation = list(range(end - count + 1, end + 1))
        last = validation[0] - horizon  # training targets end before validation starts
        first = min(max(1, context // 4), last)
        origins = list(range(first, last + 1, forecast.window_stride))
        parts["train"].append(windows_of(history, origins, context, horizon, scale, name))
        parts["validation"].append(windows_of(history, validation, context, horizon, scale, name))
        full = np.concatenate([history, future])
        parts["test"].append(windows_of(full, [len(history)], context, horizon, scale, name))
    splits = {name: concat(w) for name, w in parts.items()}
    summary, warnings = _summary(series, splits, frequency, season, missing, data, horizon)
    return ForecastSplits(**splits, series=series, horizon=horizon, season=season,
                          context=context, summary=summary, warnings=warnings)  # fmt: skip


def _summary(series, splits, frequency, season, missing, data, horizon):
    """``data_summary.json``: series, lengths, frequency, season and what was filled."""
    warnings = []
    if missing:
        warnings.append(f"{missing} missing values filled by linear interpolation")
    summary = {
        "labels": [],
        "splits": {name: {"n": len(w)} for name, w in splits.items()},
        "series": {
            "count": len(series),
            "names": [s.name for s in series][:20],
            "history_points": {s.name: len(s.history) for s in series},
            "frequency": frequency,
            "season_length": season,
            "horizon": horizon,
            "missing_values": missing,
            "resample": data.resample,
            "normalize": "per window (the backbone's scaler)",
        },
        "warnings": warnings,
    }
    return summary, warnings
