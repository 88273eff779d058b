"""Shipping a forecaster: predictor, ``model/`` directory, predict inputs, evaluate.

``model/`` holds the backbone's ``config.json``, ``model.safetensors`` (LoRA merged)
and ``tunelab_model.json`` with the context length, horizon and season length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.errors import DataError
from tunelab.tasks.timeseries.forecast_data import windows_of
from tunelab.tasks.timeseries.model_dir import load_series_weights
from tunelab.tasks.timeseries.series import fill_missing


@dataclass
class Forecast:
    """The next ``horizon`` values of one series."""

    values: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {"forecast": self.values}


def as_history(item: Any) -> np.ndarray:
    """A history (``"1,2,3"``, a list or an array; ``?`` / NaN missing) as float32.

    Raises:
        ValueError: not numbers, or fewer than two observed values.
    """
    if isinstance(item, str):
        try:
            item = [np.nan if v.strip() == "?" else float(v) for v in item.split(",") if v.strip()]
        except ValueError:
            raise ValueError("not a comma-separated list of numbers") from None
    values = np.asarray(item, dtype=np.float32).reshape(-1)
    if np.count_nonzero(~np.isnan(values)) < 2:
        raise ValueError("a history needs at least two observed values")
    return fill_missing(values[None])[0][0]


def forecast_in_units(model, context: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """``[B, horizon]`` forecasts in the series' units from ``[B, L]`` contexts."""
    from tunelab.tasks.timeseries.model import window_loc_scale

    loc, scale = window_loc_scale(context, observed)
    standardised = model(past_values=context[..., None], past_observed_mask=observed[..., None])
    return standardised * scale + loc


class ForecastPredictor:
    """A trained forecaster: history in, the next ``horizon`` values out."""

    def __init__(self, model, context: int, horizon: int, device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.context, self.horizon, self.device = context, horizon, torch.device(device)

    def _window(self, history: np.ndarray):
        """The context window that ends where ``history`` ends."""
        padded = np.concatenate([history, np.zeros(self.horizon, np.float32)])
        return windows_of(padded, [len(history)], self.context, self.horizon, 1.0, "")

    @torch.inference_mode()
    def forecast(self, histories: Sequence[Any], batch_size: int = 64) -> np.ndarray:
        """``[N, horizon]`` forecasts following each history."""
        prepared = [as_history(h) for h in histories]
        out = np.zeros((len(prepared), self.horizon), dtype=np.float32)
        for start in range(0, len(prepared), batch_size):
            chunk = prepared[start : start + batch_size]
            ctx = [self._window(h) for h in chunk]
            past = torch.from_numpy(np.concatenate([w.context for w in ctx]))
            mask = torch.from_numpy(np.concatenate([w.observed for w in ctx]))
            pred = forecast_in_units(self.model, past.to(self.device), mask.to(self.device))
            out[start : start + len(chunk)] = pred.float().cpu().numpy()
        return out

    def predict(self, histories: Any) -> list[Forecast]:
        """One :class:`Forecast` per history (one history or a list of them)."""
        if (
            isinstance(histories, str)
            or (isinstance(histories, np.ndarray) and histories.ndim == 1)
            or (isinstance(histories, list) and histories and _is_number(histories[0]))
        ):
            histories = [histories]
        return [Forecast([float(v) for v in row]) for row in self.forecast(list(histories))]

    def predict_records(self, records: Sequence[dict]) -> list[dict]:
        """Each record with its ``forecast``; an unusable history gets an ``error``."""
        out = [dict(r) for r in records]
        ready = []
        for record in out:
            if "error" in record:
                continue
            try:
                as_history(record["history"])
                ready.append(record)
            except ValueError as err:
                record["error"] = f"history: {err}"
        if ready:
            for record, row in zip(
                ready, self.forecast([r["history"] for r in ready]), strict=True
            ):
                record["forecast"] = [float(v) for v in row]
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number)


def load_forecaster(model_dir: Path, card: dict, device: str = "cpu") -> ForecastPredictor:
    """Rebuild a saved forecaster as a predictor."""
    from tunelab.tasks.timeseries.backbone import load_backbone
    from tunelab.tasks.timeseries.model import SeriesForecaster

    backbone = load_backbone(model_dir, pretrained=False, channels=1)
    model = SeriesForecaster(backbone, card["context"], card["horizon"])
    load_series_weights(model, model_dir)
    return ForecastPredictor(model, card["context"], card["horizon"], device)


def read_history_inputs(
    arguments: list[str], input_file: Path | None, key: str = "history"
) -> list[dict]:
    """``{key: "1,2,3"}`` per argument, then ``{"line": N, key: ...}`` per line of a
    ``.txt`` (one comma-separated series a line)."""
    from tunelab.io import read_line_records

    records: list[dict] = [{key: text} for text in arguments]
    if input_file is not None:
        if Path(input_file).suffix.lower() != ".txt":
            raise DataError(
                f"--input {input_file}: give a .txt with one comma-separated {key} a line"
            )
        records += read_line_records(
            Path(input_file), key, f"empty {key}", f"pass a .txt of {key} values"
        )
    return records


def evaluate_forecasts(predictor: ForecastPredictor, run_dir: Path, source: str) -> dict:
    """MAE / RMSE / MASE / sMAPE on a long CSV read with the run's columns: each series'
    last ``horizon`` points are forecast from the points before them.

    Raises:
        DataError: unreadable source or series too short.
    """
    from tunelab.config import load_config
    from tunelab.tasks.timeseries.forecast_data import read_series
    from tunelab.tasks.timeseries.forecast_metrics import forecast_scores, mase_scale

    cfg = load_config(Path(run_dir) / "config.yaml")
    found = read_series(source, "--data", cfg.data)[0]
    horizon, season = predictor.horizon, cfg.forecast.season_length or 1
    card_season = getattr(predictor, "season", None)
    season = card_season or season
    short = [name for name, v in found.items() if len(v) <= horizon + 1]
    if short:
        raise DataError(f"--data {source}: series '{short[0]}' is not longer than the horizon")
    histories = [v[:-horizon] for v in found.values()]
    truth = np.stack([v[-horizon:] for v in found.values()])
    scales = np.array([mase_scale(h, season) for h in histories])
    metrics = forecast_scores(predictor.forecast(histories).astype(np.float64), truth, scales)
    metrics["n"] = len(histories)
    return metrics
