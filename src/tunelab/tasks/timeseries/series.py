"""Pure functions on series: fill missing values, resample to one length, normalise.

A patch transformer sees a fixed number of points; unequal lengths are made equal by
linear resampling (the shape of the curve is kept, its duration is not), which is also
how a short set like ItalyPowerDemand (24 points) reaches a 128-point backbone.
"""

from __future__ import annotations

import numpy as np

from tunelab.errors import DataError

MIN_SCALE = 1e-5  # PatchTST's std scaler floor: a flat series is not divided by zero


def fill_missing(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Linear interpolation inside, nearest value at the ends; ``(filled, count)``.

    A channel with no observed value at all becomes zeros.
    """
    out = np.array(values, dtype=np.float32, copy=True)
    count = int(np.isnan(out).sum())
    if not count:
        return out, 0
    for row in out.reshape(-1, out.shape[-1]):
        observed = np.flatnonzero(~np.isnan(row))
        if len(observed) == 0:
            row[:] = 0.0
            continue
        gaps = np.flatnonzero(np.isnan(row))
        row[gaps] = np.interp(gaps, observed, row[observed])
    return out, count


def resample(values: np.ndarray, length: int) -> np.ndarray:
    """``[C, T]`` linearly resampled to ``[C, length]`` (end points kept)."""
    channels, steps = values.shape
    if steps == length:
        return values.astype(np.float32)
    if steps == 1:
        return np.repeat(values, length, axis=1).astype(np.float32)
    source = np.linspace(0.0, 1.0, steps)
    target = np.linspace(0.0, 1.0, length)
    return np.stack([np.interp(target, source, values[c]) for c in range(channels)]).astype(
        np.float32
    )


def z_normalize(values: np.ndarray) -> np.ndarray:
    """Each channel to mean 0, std 1 (a flat channel to zeros)."""
    mean = values.mean(axis=-1, keepdims=True)
    std = np.maximum(values.std(axis=-1, keepdims=True), MIN_SCALE)
    return ((values - mean) / std).astype(np.float32)


def prepare_series(
    series: list[np.ndarray], length: int, normalize: bool, missing: str, where: str
) -> tuple[np.ndarray, dict[str, int]]:
    """Series as one ``[N, C, length]`` array, and counts of what was done to them.

    Raises:
        DataError: missing values with ``data.missing: error``.
    """
    out = np.empty((len(series), series[0].shape[0], length), dtype=np.float32)
    counts = {"missing_values": 0, "series_with_missing": 0, "resampled": 0}
    for i, values in enumerate(series):
        filled, missing_count = fill_missing(values)
        if missing_count and missing == "error":
            raise DataError(
                f"{where}: series {i + 1} has {missing_count} missing values; "
                "set data.missing: interpolate to fill them"
            )
        counts["missing_values"] += missing_count
        counts["series_with_missing"] += bool(missing_count)
        counts["resampled"] += filled.shape[-1] != length
        resampled = resample(filled, length)
        out[i] = z_normalize(resampled) if normalize else resampled
    return out, counts


def length_stats(series: list[np.ndarray]) -> dict[str, int]:
    """Shortest, median and longest length (observed points, trailing NaN excluded)."""
    lengths = [_observed_length(s) for s in series]
    return {
        "min": int(min(lengths)),
        "p50": int(np.median(lengths)),
        "max": int(max(lengths)),
    }


def _observed_length(values: np.ndarray) -> int:
    observed = np.flatnonzero(~np.isnan(values).all(axis=0))
    return int(observed[-1] + 1) if len(observed) else 0
