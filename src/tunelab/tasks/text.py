"""Text classification: an HF encoder, tokenized batches, the tokenizer saved alongside."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from rich.console import Console

from tunelab.batching import TokenBatches
from tunelab.config import Config
from tunelab.tasks.base import SPLIT_NAMES, BuiltModel, Task, register_task


@register_task
class TextTask(Task):
    """The original tunelab task; behaviour as before the task abstraction."""

    name = "text_classification"
    noun = "texts"

    def prepare_data(self, cfg: Config):
        from tunelab.data import prepare_text_data

        return prepare_text_data(cfg.data, seed=cfg.data.seed)

    def build_model(self, cfg: Config, num_classes: int) -> BuiltModel:
        from tunelab.models.text import build_text_classifier

        model, tokenizer, path = build_text_classifier(cfg.model, num_classes)
        return BuiltModel(model, tokenizer, path)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, TokenBatches]:
        label_ids = {label: i for i, label in enumerate(splits.labels)}
        return {
            name: TokenBatches.from_texts(
                built.processor,
                frame["text"].tolist(),
                [label_ids[v] for v in frame["label"]],
                cfg.model.max_length,
            )
            for name, frame in ((n, getattr(splits, n)) for n in SPLIT_NAMES)
        }

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        from tunelab.features import cache_key

        options = {
            "model": cfg.model.model_dump(exclude={"head"}),
            "pretrained": cfg.model.pretrained,
        }
        return cache_key(built.source, options, getattr(splits, split)["text"].tolist())

    def predictor(
        self, model, built: BuiltModel, labels: list[str], cfg: Config, device: torch.device | str
    ):
        from tunelab.inference import Predictor

        return Predictor(model, built.processor, labels, cfg.model.max_length, device)

    def examples(self, split) -> tuple[list, list[str]]:
        return split["text"].tolist(), split["label"].tolist()

    def take(self, split, rows: list[int]):
        return split.iloc[rows].reset_index(drop=True)

    def concat(self, first, second):
        return pd.concat([first, second], ignore_index=True)

    def overlap_keys(self, split) -> list[str]:
        from tunelab.data.checks import normalize_for_overlap

        return [normalize_for_overlap(text) for text in split["text"]]

    def save_model(
        self, model_dir: Path, model, built: BuiltModel, labels: list[str], cfg: Config
    ) -> Path:
        from tunelab.export import save_model

        return save_model(model_dir, model, built.processor, labels, cfg, built.source)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.inference import load_text_predictor

        return load_text_predictor(model_dir, card, device)

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.config import ModelConfig
        from tunelab.layers import model_layer_groups
        from tunelab.models.text import build_text_classifier

        model, _, _ = build_text_classifier(ModelConfig(name=model_name), num_classes=2)
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]
