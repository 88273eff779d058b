"""Per-point anomaly scores: the backbone's error, and the classical baselines' scores,
in the same units (an error divided by the standard deviation of the ``context``
points before it), so one threshold rule serves all of them.

A point covered by several windows (a horizon over 1, or reconstruction) scores the
mean of their errors on it; a point no window covers (the first
:func:`.anomaly_data.min_past` points when forecasting) scores 0.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import torch

from tunelab.tasks.timeseries.anomaly_data import (
    Stream,
    anomaly_windows,
    min_past,
    scoring_origins,
)
from tunelab.tasks.timeseries.anomaly_metrics import choose_threshold, detection_scores
from tunelab.tasks.timeseries.series import MIN_SCALE


@torch.inference_mode()
def model_scores(
    model,
    stream: Stream,
    context: int,
    score: str,
    horizon: int,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
) -> np.ndarray:
    """Scores of points ``[start, end)`` of ``stream`` from a forecaster / reconstructor
    whose outputs are in the window's standardised units."""
    length = len(stream.values)
    origins = scoring_origins(length, stream.start, stream.end, context, score, horizon)
    windows = anomaly_windows(stream.values, origins, context, score, horizon)
    targets = torch.from_numpy(windows.targets()[:, :horizon])
    model = model.to(device).eval()
    total, count = np.zeros(length + context), np.zeros(length + context)
    for first in range(0, len(origins), batch_size):
        rows = slice(first, first + batch_size)
        past = torch.from_numpy(windows.context[rows, :, None]).to(device)
        mask = torch.from_numpy(windows.observed[rows, :, None]).to(device)
        outputs = model(past_values=past, past_observed_mask=mask).float().cpu()
        errors = (outputs - targets[rows]).abs().numpy()
        for origin, error in zip(origins[first : first + batch_size], errors, strict=True):
            low = origin - horizon if score == "reconstruction" else origin
            keep = slice(max(0, -low), horizon)  # a padded window's padding is not a point
            total[max(low, 0) : low + horizon] += error[keep]
            count[max(low, 0) : low + horizon] += 1
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return mean[stream.start : stream.end]


def validation_scores(model, splits: Any, device: torch.device | str | None = None) -> np.ndarray:
    """:func:`model_scores` of ``splits.validation_stream``, one pass per state of the weights.

    The end of a run reads them three times (the report's threshold, the predictor's
    detection card, the saved model's card), so they are kept on ``splits`` under a
    digest of the weights and the device: a model trained further, merged or moved is
    scored afresh. ``device`` defaults to where the model is.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    key = (weights_digest(model), str(device))
    if key not in splits.scored:
        splits.scored.clear()  # only the latest weights' scores are read again
        splits.scored[key] = model_scores(model, splits.validation_stream, splits.context,
                                          splits.score, splits.horizon, device)  # fmt: skip
    return splits.scored[key]


def weights_digest(model: torch.nn.Module) -> str:
    """A digest of every weight and buffer with its name: it changes with any change
    to them, however made (an optimiser step, ``load_state_dict``, a write through
    ``.data``, merged adapters)."""
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().reshape(-1).cpu().view(torch.uint8).numpy())
    return digest.hexdigest()


def baseline_scores(method: str, stream: Stream, context: int) -> np.ndarray:
    """``rolling_zscore``: distance from the mean of the ``context`` points before, in
    their standard deviations; ``naive``: the change from the previous point, in the same
    units (the error of a last-value forecast)."""
    series = pd.Series(stream.values.astype(np.float64))
    past = series.shift(1).rolling(context, min_periods=min_past(context))
    spread = past.std(ddof=0).clip(lower=MIN_SCALE)
    reference = past.mean() if method == "rolling_zscore" else series.shift(1)
    scores = ((series - reference).abs() / spread).fillna(0.0).to_numpy()
    return scores[stream.start : stream.end]


def detection_report(test: np.ndarray, validation: np.ndarray, labels: np.ndarray,
                     rule: str, quantile: float, contamination: float) -> dict:  # fmt: skip
    """Detection scores on the test part at the threshold ``rule`` picks, the threshold
    itself, and the mean validation score (the objective's ``error``)."""
    threshold = choose_threshold(rule, test, validation, quantile, contamination)
    found = detection_scores(test, labels, threshold)
    found["threshold"] = threshold
    return {
        "test": {"error": float(np.mean(test)), **found},
        "validation": {"error": float(np.mean(validation))},
    }
