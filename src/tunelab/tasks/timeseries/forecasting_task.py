"""``task: forecasting``: a patch-transformer backbone with a linear forecasting head,
on a long CSV, scored by MAE / RMSE / MASE / sMAPE against seasonal-naive, mean, ETS
and ARIMA forecasts made in the same run on the same windows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from tunelab.config import Config
from tunelab.errors import ConfigError
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    Task,
    TaskSections,
    register_task,
)
from tunelab.tasks.timeseries.config import (
    ForecastConfig,
    ForecastDataConfig,
    ForecastModelConfig,
    ForecastTrainConfig,
    PretrainConfig,
)
from tunelab.tasks.timeseries.forecast_metrics import ForecastObjective


@register_task
class ForecastingTask(Task):
    """Forecast the next ``forecast.horizon`` points of each series."""

    name = "forecasting"
    noun = "series"
    input_key = "history"
    request_key = "histories"
    request_is_text = False
    serves = "forecasts"  # what a refused ``serve`` request is told the model does
    objective_class = ForecastObjective

    def sections(self) -> TaskSections:
        return TaskSections(
            ForecastModelConfig,
            ForecastDataConfig,
            ForecastTrainConfig,
            extra={"forecast": ForecastConfig, "pretrain": PretrainConfig},
        )

    # -------------------------------------------------------------- training
    def prepare_data(self, cfg: Config):
        from tunelab.tasks.timeseries.backbone import backbone_path, context_length
        from tunelab.tasks.timeseries.forecast_data import prepare_forecast_data

        context = context_length(backbone_path(cfg.model.name))
        return prepare_forecast_data(cfg.data, cfg.forecast, context)

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.timeseries.backbone import backbone_path, load_backbone
        from tunelab.tasks.timeseries.model import SeriesForecaster

        path = backbone_path(cfg.model.name)
        backbone = load_backbone(path, cfg.model.pretrained, channels=1)
        model = SeriesForecaster(backbone, splits.context, splits.horizon, cfg.model.dropout)
        return BuiltModel(model, None, path if cfg.model.pretrained else None)

    def objective(self, cfg: Config, splits) -> ForecastObjective:
        return ForecastObjective(splits.horizon, cfg.forecast.loss)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.timeseries.batches import WindowBatches

        return {
            name: WindowBatches(
                torch.from_numpy(getattr(splits, name).context),
                torch.from_numpy(getattr(splits, name).observed),
                torch.from_numpy(getattr(splits, name).targets()),
            )
            for name in SPLIT_NAMES
        }

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        from tunelab.tasks.timeseries.backbone import features_key

        return features_key(cfg, built, getattr(splits, split).context)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device) -> dict:
        """The baselines' scores: as ``<method>_<metric>`` in ``test``, and per method
        under ``baselines`` (which ``compare`` shows as rows)."""
        from tunelab.tasks.timeseries.baselines import forecasting_baselines

        found = forecasting_baselines(splits, cfg.forecast.baselines, cfg.forecast.interval)
        test = {
            f"{method}_{metric}": value
            for method, result in found.items()
            for metric, value in result.get("test", {}).items()
        }
        return {"test": test, "baselines": found}

    # -------------------------------------------------------------- shipping
    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.timeseries.forecast_io import ForecastPredictor

        predictor = ForecastPredictor(model, splits.context, splits.horizon, device)
        predictor.season = splits.season
        return predictor

    def examples(self, split) -> tuple[list, list]:
        return [list(row) for row in split.context], list(split.future)

    def latency_inputs(self, splits, limit: int) -> list:
        return [s.history for s in splits.series][:limit]

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.timeseries.model_dir import save_series_model

        fields = {"context": splits.context, "horizon": splits.horizon,
                  "season_length": splits.season}  # fmt: skip
        return save_series_model(model_dir, model, cfg, fields)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.timeseries.forecast_io import load_forecaster

        predictor = load_forecaster(model_dir, card, device)
        predictor.season = card.get("season_length", 1)
        return predictor

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """``{input_key: "1,2,3"}`` per argument (``history``; anomaly detection's
        ``series``), then one record per line of a ``.txt``."""
        from tunelab.tasks.timeseries.forecast_io import read_history_inputs

        return read_history_inputs(arguments, input_file, key=self.input_key)

    def request_inputs(self, payload: dict[str, Any]) -> list:
        """The series under ``request_key`` (``histories``; anomaly detection's ``series``),
        the body's only key."""
        key = self.request_key
        if payload.get(key) is None or set(payload) != {key}:
            raise ValueError(f'this model {self.serves}: send {{"{key}": [[1.0, 2.0, ...], ...]}}')
        return list(payload[key])

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.timeseries.forecast_io import evaluate_forecasts

        return evaluate_forecasts(predictor, run_dir, source)

    def export_signature(self, predictor) -> ExportSignature:
        generator = torch.Generator().manual_seed(0)
        samples = [
            {
                "past_values": torch.randn(n, predictor.context, 1, generator=generator),
                "past_observed_mask": torch.ones(n, predictor.context, 1),
            }
            for n in (2, 1)
        ]
        dynamic = {"past_values": {0: "batch"}, "past_observed_mask": {0: "batch"}}
        return ExportSignature(_Forecasts(predictor.model), samples, dynamic, "forecast")

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.timeseries.backbone import (
            backbone_path,
            context_length,
            load_backbone,
        )
        from tunelab.tasks.timeseries.model import SeriesForecaster

        path = backbone_path(model_name)
        backbone = load_backbone(path, pretrained=False, channels=1)
        model = SeriesForecaster(backbone, context_length(path), 1)
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def pretrain(self, cfg: Config, output_dir: Path, console: Console) -> Path:
        from tunelab.tasks.timeseries.pretrain import pretrain_backbone

        return pretrain_backbone(cfg.pretrain, output_dir, console)

    def take(self, split, rows: list[int]):
        raise ConfigError(f"{self.name} has no continual updates (model.init_from)")


class _Forecasts(torch.nn.Module):
    """Named inputs -> ``[B, horizon]`` forecasts, for ONNX."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, past_values: torch.Tensor, past_observed_mask: torch.Tensor) -> torch.Tensor:
        from tunelab.tasks.timeseries.forecast_io import forecast_in_units

        return forecast_in_units(self.model, past_values[..., 0], past_observed_mask[..., 0])
