"""Forecast accuracy as pure functions, and the objective the trainer reads.

MASE divides each window's mean absolute error by the series' in-sample seasonal-naive
error (the mean ``|y_t - y_{t-m}|`` of its history): 1.0 is as good as repeating last
season, below 1 is better. sMAPE is the symmetric percentage error, 0-200.
"""

from __future__ import annotations

import numpy as np
import torch

from tunelab.objective import Batches, EvalResult, MetricSpec, Objective

SCALE_FLOOR = 1e-8


def mase_scale(history: np.ndarray, season: int) -> float:
    """Mean absolute seasonal difference of ``history`` (lag 1 when too short)."""
    lag = season if len(history) > season else 1
    if len(history) <= lag:
        return 1.0
    return max(float(np.mean(np.abs(history[lag:] - history[:-lag]))), SCALE_FLOOR)


def forecast_scores(pred: np.ndarray, truth: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """``mae``, ``rmse``, ``mase`` and ``smape`` of ``[N, H]`` forecasts."""
    error = pred - truth
    denominator = np.abs(truth) + np.abs(pred)
    ratio = np.divide(
        2 * np.abs(error), denominator, out=np.zeros_like(error), where=denominator > 0
    )
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mase": float(np.mean(np.mean(np.abs(error), axis=1) / scale)),
        "smape": float(100 * np.mean(ratio)),
    }


def interval_coverage(lower: np.ndarray, upper: np.ndarray, truth: np.ndarray) -> float:
    """Share of true values inside ``[lower, upper]``."""
    return float(np.mean((truth >= lower) & (truth <= upper)))


class ForecastObjective(Objective):
    """Squared (or absolute) error in each window's standardised units, so series of
    different magnitudes weigh alike; scored in the series' own units by MASE
    (monitored), sMAPE, MAE and RMSE.

    Targets are ``[B, H + 3]``: the standardised future, the window's ``loc`` and
    ``scale``, and the series' MASE scale.
    """

    metrics = (
        MetricSpec("mase", "MASE", "min", "mase"),
        MetricSpec("smape", "sMAPE", "min", "smape"),
        MetricSpec("mae", "MAE", "min", "mae"),
        MetricSpec("rmse", "RMSE", "min", "rmse"),
        MetricSpec("loss", "loss", "min", "loss"),
    )
    monitor = "mase"
    headline = ("mase", "smape", "mae")

    def __init__(self, horizon: int, loss: str = "mse") -> None:
        self.horizon, self.kind = horizon, loss

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        error = outputs.float() - targets[:, : self.horizon]
        return error.abs().mean() if self.kind == "mae" else (error**2).mean()

    def in_units(self, values: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
        """Standardised values back in the series' units."""
        h = self.horizon
        return (values.float() * targets[:, h + 1 : h + 2] + targets[:, h : h + 1]).cpu().numpy()

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return 0.0

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        pred = np.zeros((num_examples, self.horizon), dtype=np.float64)
        truth = np.zeros_like(pred)
        scale = np.ones(num_examples)
        total = 0.0
        for indices, outputs, targets in batches:
            total += float(self.loss(outputs, targets)) * len(indices)
            pred[indices] = self.in_units(outputs, targets)
            truth[indices] = self.in_units(targets[:, : self.horizon], targets)
            scale[indices] = targets[:, self.horizon + 2].cpu().numpy()
        metrics = forecast_scores(pred, truth, scale)
        metrics["loss"] = total / max(num_examples, 1)
        return EvalResult(metrics, {"forecast": pred})
