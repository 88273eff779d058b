"""``task: anomaly_detection``: a patch-transformer forecaster (or reconstructor) trained
on mostly-normal data; a point's anomaly score is the model's error on it. Scored by
point-wise and point-adjusted precision / recall / F1 and PR-AUC on a labelled test
series, against rolling z-score and last-value baselines scored the same way.

The model, its batches, layer groups, ONNX export, feature caching and pre-training are
the forecaster's (:class:`ForecastingTask`); this task changes the data, the objective,
the scoring and what a predictor returns.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.config import Config
from tunelab.tasks.base import BuiltModel, TaskSections, register_task
from tunelab.tasks.timeseries.anomaly_metrics import AnomalyObjective
from tunelab.tasks.timeseries.config import (
    AnomalyConfig,
    AnomalyDataConfig,
    ForecastModelConfig,
    ForecastTrainConfig,
    PretrainConfig,
)
from tunelab.tasks.timeseries.forecasting_task import ForecastingTask


@register_task
class AnomalyDetectionTask(ForecastingTask):
    """Score every point of a series by how badly the model predicts it."""

    name = "anomaly_detection"
    input_key = "series"
    request_key = "series"
    serves = "scores series"
    objective_class = AnomalyObjective

    def sections(self) -> TaskSections:
        return TaskSections(
            ForecastModelConfig,
            AnomalyDataConfig,
            ForecastTrainConfig,
            extra={"anomaly": AnomalyConfig, "pretrain": PretrainConfig},
        )

    def prepare_data(self, cfg: Config):
        from tunelab.tasks.timeseries.anomaly_data import prepare_anomaly_data
        from tunelab.tasks.timeseries.backbone import backbone_path, context_length

        context = context_length(backbone_path(cfg.model.name))
        return prepare_anomaly_data(cfg.data, cfg.anomaly, context)

    def objective(self, cfg: Config, splits) -> AnomalyObjective:
        return AnomalyObjective(splits.horizon)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device) -> dict:
        """Detection scores of the model (``test``) and of each baseline (as
        ``<method>_<metric>`` in ``test`` and under ``baselines``), every one thresholded
        by the same rule on its own scores."""
        from tunelab.tasks.timeseries.anomaly_scores import (
            baseline_scores,
            model_scores,
            validation_scores,
        )

        def scores(method: str, stream) -> np.ndarray:
            if method != "model":
                return baseline_scores(method, stream, splits.context)
            if stream is splits.validation_stream:  # also the detection cards' threshold
                return validation_scores(model, splits, device)
            return model_scores(model, stream, splits.context, splits.score,
                                splits.horizon, device)  # fmt: skip

        found = {}
        for method in ["model", *cfg.anomaly.baselines]:
            started = time.perf_counter()
            found[method] = _report(partial(scores, method), splits, cfg.anomaly)
            found[method]["fit_seconds"] = round(time.perf_counter() - started, 2)
        own = found.pop("model")
        test = {k: v for k, v in own["test"].items() if k != "error"}
        for method, result in found.items():
            result["library"] = "pandas"
            test |= {f"{method}_{k}": v for k, v in result["test"].items() if k != "threshold"}
        return {"test": test, "baselines": found}

    # -------------------------------------------------------------- shipping
    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.timeseries.anomaly_io import AnomalyPredictor, Detection

        card = _detection_card(model, splits, cfg, device)
        return AnomalyPredictor(model, splits.context, Detection(**card), device)

    def latency_inputs(self, splits, limit: int) -> list:
        """Test series pieces of two contexts each (one scored series per call)."""
        values, size = splits.test_stream.values, 2 * splits.context
        return [values[i : i + size] for i in range(0, len(values) - size + 1, size)][:limit]

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.timeseries.model_dir import save_series_model

        fields = {"context": splits.context, "detection": _detection_card(model, splits, cfg)}
        return save_series_model(model_dir, model, cfg, fields)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.timeseries.anomaly_io import load_detector

        return load_detector(model_dir, card, device)

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.timeseries.anomaly_io import evaluate_detector

        return evaluate_detector(predictor, run_dir, source)


def _report(score, splits, settings: AnomalyConfig) -> dict:
    """One method's detection report from its scores of the validation and test parts."""
    from tunelab.tasks.timeseries.anomaly_scores import detection_report

    validation, test = score(splits.validation_stream), score(splits.test_stream)
    labels = splits.test_stream.scored_labels
    return detection_report(test, validation, labels, settings.threshold, settings.quantile,
                            settings.contamination)  # fmt: skip


def _detection_card(model, splits, cfg: Config, device: Any = None) -> dict:
    """The run's detection settings, with the threshold set on the model's validation
    scores (unused when the rule is ``contamination``)."""
    from tunelab.tasks.timeseries.anomaly_io import detection_card
    from tunelab.tasks.timeseries.anomaly_scores import validation_scores

    validation = validation_scores(model, splits, device)
    threshold = float(np.quantile(validation, cfg.anomaly.quantile))
    return detection_card(splits, cfg, threshold)
