"""``task: timeseries_classification``: a PatchTST / PatchTSMixer backbone with a new
classification head, on ``.ts`` files or wide CSVs, scored as text classification is
(accuracy, macro-F1, ...) and against MiniRocket in the same run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from tunelab.config import Config
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    TaskSections,
    register_task,
)
from tunelab.tasks.classification import ClassificationTask, HeadConfig
from tunelab.tasks.timeseries.config import (
    DEFAULT_BACKBONE,
    PretrainConfig,
    TSClassificationDataConfig,
    TSClassificationTrainConfig,
    TSModelConfig,
)


@register_task
class SeriesClassificationTask(ClassificationTask):
    """Classify whole series (uni- or multivariate, any length) with a patch transformer."""

    name = "timeseries_classification"
    noun = "series"
    input_key = "series"
    request_key = "series"
    request_is_text = False

    def sections(self) -> TaskSections:
        return TaskSections(
            TSModelConfig,
            TSClassificationDataConfig,
            TSClassificationTrainConfig,
            extra={"pretrain": PretrainConfig},
        )

    def owns_model(self, model_name: str) -> bool:
        if model_name == DEFAULT_BACKBONE:
            return True
        config = Path(model_name).expanduser() / "config.json"
        try:
            return json.loads(config.read_text()).get("model_type") in ("patchtst", "patchtsmixer")
        except (OSError, json.JSONDecodeError):
            return False

    def train_labels(self, splits) -> list[str]:
        return list(splits.train.labels)

    # -------------------------------------------------------------- training
    def prepare_data(self, cfg: Config):
        from tunelab.tasks.timeseries.backbone import backbone_path, context_length
        from tunelab.tasks.timeseries.classification_data import prepare_classification_data

        length = context_length(backbone_path(cfg.model.name))
        return prepare_classification_data(cfg.data, length, cfg.data.seed)

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.timeseries.backbone import backbone_path, load_backbone
        from tunelab.tasks.timeseries.model import SeriesClassifier

        path = backbone_path(cfg.model.name)
        backbone = load_backbone(path, cfg.model.pretrained, splits.channels)
        model = SeriesClassifier(backbone, splits.channels, len(splits.labels), cfg.model.head)
        return BuiltModel(model, None, path if cfg.model.pretrained else None)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.timeseries.batches import SeriesBatches

        ids = {label: i for i, label in enumerate(splits.labels)}
        return {
            name: SeriesBatches(
                torch.from_numpy(getattr(splits, name).values),
                torch.tensor([ids[v] for v in getattr(splits, name).labels]),
            )
            for name in SPLIT_NAMES
        }

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        from tunelab.tasks.timeseries.backbone import features_key

        return features_key(cfg, built, getattr(splits, split).values)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device) -> dict:
        """MiniRocket (and ROCKET if asked) fitted on the same train split."""
        from tunelab.tasks.timeseries.baselines import classification_baselines

        if not cfg.train.baselines:
            return {}
        return {"baselines": classification_baselines(splits, cfg.train.baselines, cfg.data.seed)}

    # -------------------------------------------------------------- shipping
    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.timeseries.classification_io import SeriesPredictor

        normalize = cfg.data.normalize == "per_series"
        return SeriesPredictor(
            model, splits.labels, splits.length, normalize, splits.channels, device
        )

    def examples(self, split) -> tuple[list, list[str]]:
        return list(split.raw), list(split.labels)

    def input_sizes(self, splits, split: str) -> dict[str, list[float]]:
        """Series lengths as read (before padding or cutting to the model's length)."""
        raw = getattr(splits, split).raw
        return {"length (steps)": [float(series.shape[-1]) for series in raw]}

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.timeseries.classification_io import save_classifier

        return save_classifier(model_dir, model, splits, cfg)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.timeseries.classification_io import load_classifier

        return load_classifier(model_dir, card, device)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """``{"series": "1,2,3"}`` per argument (channels separated by ``:``), then one
        record per series of a ``.ts`` / wide CSV or per line of a ``.txt``."""
        from tunelab.tasks.timeseries.classification_io import read_series_inputs

        return read_series_inputs(arguments, input_file, _label_column(run_dir))

    def request_inputs(self, payload: dict[str, Any]) -> list:
        series = payload.get("series")
        if series is None or set(payload) != {"series"}:
            raise ValueError(
                'this model classifies series: send {"series": [[1.0, 2.0, ...], ...]}'
            )
        return list(series)

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.timeseries.classification_io import evaluate_series

        return evaluate_series(predictor, source, columns.get("label") or _label_column(run_dir))

    def export_signature(self, predictor) -> ExportSignature:
        generator = torch.Generator().manual_seed(0)
        shape = (predictor.length, predictor.channels)
        samples = [{"past_values": torch.randn(n, *shape, generator=generator)} for n in (2, 1)]
        return ExportSignature(
            _SeriesLogits(predictor.model), samples, {"past_values": {0: "batch"}}
        )

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.timeseries.backbone import backbone_path, load_backbone
        from tunelab.tasks.timeseries.model import SeriesClassifier

        backbone = load_backbone(backbone_path(model_name), pretrained=False, channels=1)
        model = SeriesClassifier(backbone, 1, 2, HeadConfig())
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def pretrain(self, cfg: Config, output_dir: Path, console: Console) -> Path:
        from tunelab.tasks.timeseries.pretrain import pretrain_backbone

        return pretrain_backbone(cfg.pretrain, output_dir, console)


class _SeriesLogits(torch.nn.Module):
    """``past_values`` ``[B, T, C]`` -> logits, with a named argument for ONNX."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, past_values: torch.Tensor) -> torch.Tensor:
        return self.model(past_values=past_values).float()


def _label_column(run_dir: Path) -> str:
    """The run's ``data.label_column`` (``label`` when the config is gone)."""
    from tunelab.config import load_config

    config = Path(run_dir) / "config.yaml"
    return load_config(config).data.label_column if config.is_file() else "label"
