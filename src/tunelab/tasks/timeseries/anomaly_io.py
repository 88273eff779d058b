"""Shipping an anomaly detector: predictor, ``model/`` directory, evaluate.

``model/`` is a forecaster's (backbone ``config.json``, ``model.safetensors`` with LoRA
merged, ``tunelab_model.json``) whose card also says how points are scored and the
threshold the run chose, so a reloaded detector flags exactly what the run did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.tasks.timeseries.anomaly_data import Stream
from tunelab.tasks.timeseries.anomaly_scores import model_scores
from tunelab.tasks.timeseries.forecast_io import as_history
from tunelab.tasks.timeseries.model_dir import load_series_weights


@dataclass(frozen=True)
class Detection:
    """How points are scored and flagged: ``rule`` is ``validation_quantile`` (a fixed
    ``threshold``) or ``contamination`` (the top share of each series)."""

    score: str
    horizon: int
    rule: str
    threshold: float
    contamination: float


@dataclass
class Anomalies:
    """One series' per-point scores and the indices of the flagged points."""

    scores: list[float]
    anomalies: list[int]
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {"anomalies": self.anomalies, "scores": self.scores, "threshold": self.threshold}


class AnomalyPredictor:
    """A trained detector: a series in, its per-point scores and flagged points out."""

    def __init__(self, model, context: int, detection: Detection, device: Any = "cpu"):
        self.model = model.to(device).eval()
        self.context, self.detection, self.device = context, detection, torch.device(device)
        self.horizon = detection.horizon

    def scores(self, series: Any) -> np.ndarray:
        """Per-point scores of one series (``"1,2,3"``, a list or an array)."""
        values = as_history(series)
        stream = Stream(values, np.zeros(len(values), np.int8), 0, len(values))
        d = self.detection
        return model_scores(self.model, stream, self.context, d.score, d.horizon, self.device)

    def detect(self, series: Any) -> Anomalies:
        """Scores and flagged points of one series."""
        scores = self.scores(series)
        d = self.detection
        contamination = d.rule == "contamination"
        threshold = (
            float(np.quantile(scores, 1 - d.contamination)) if contamination else d.threshold
        )
        flagged = np.flatnonzero(scores > threshold).tolist()
        return Anomalies([round(float(s), 6) for s in scores], flagged, threshold)

    def predict(self, series: Any) -> list[Anomalies]:
        """One :class:`Anomalies` per series (one series or a list of them)."""
        if isinstance(series, str) or (
            len(series) and np.isscalar(series[0]) and not isinstance(series[0], str)
        ):
            series = [series]
        return [self.detect(s) for s in series]

    def predict_records(self, records: Sequence[dict]) -> list[dict]:
        """Each record with its scores and anomalies; an unusable series gets an ``error``."""
        out = [dict(r) for r in records]
        for record in out:
            if "error" in record:
                continue
            try:
                record.update(self.detect(record["series"]).to_dict())
            except ValueError as err:
                record["error"] = f"series: {err}"
        return out


def detection_card(splits, cfg, threshold: float) -> dict[str, Any]:
    """What :class:`Detection` needs, for ``tunelab_model.json``."""
    settings = cfg.anomaly
    return {"score": splits.score, "horizon": splits.horizon, "rule": settings.threshold,
            "threshold": threshold, "contamination": settings.contamination}  # fmt: skip


def load_detector(model_dir: Path, card: dict, device: str = "cpu") -> AnomalyPredictor:
    """Rebuild a saved detector as a predictor."""
    from tunelab.tasks.timeseries.backbone import load_backbone
    from tunelab.tasks.timeseries.model import SeriesForecaster

    detection = Detection(**card["detection"])
    backbone = load_backbone(model_dir, pretrained=False, channels=1)
    model = SeriesForecaster(backbone, card["context"], detection.horizon)
    load_series_weights(model, model_dir)
    return AnomalyPredictor(model, card["context"], detection, device)


def evaluate_detector(predictor: AnomalyPredictor, run_dir: Path, source: str) -> dict:
    """Detection scores on a labelled file read with the run's columns, at the run's
    threshold rule, and the mean score (``error``).

    Raises:
        DataError: unreadable source or no label column.
    """
    from tunelab.config import load_config
    from tunelab.tasks.timeseries.anomaly_data import read_stream
    from tunelab.tasks.timeseries.anomaly_metrics import detection_scores

    cfg = load_config(Path(run_dir) / "config.yaml")
    values, labels, _ = read_stream(source, "--data", cfg.data, need_labels=True)
    found = predictor.detect(values)
    scores = np.asarray(found.scores)
    metrics = detection_scores(scores, labels, found.threshold)
    return {"error": float(np.mean(scores)), **metrics, "threshold": found.threshold,
            "n": len(values)}  # fmt: skip
