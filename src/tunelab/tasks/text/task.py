"""The text classification task: an HF encoder, tokenized batches, the tokenizer saved
alongside the weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from tunelab.batching import TokenBatches
from tunelab.config import Config
from tunelab.errors import ConfigError
from tunelab.self_training import SelfTrainingConfig
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    TaskSections,
    register_task,
)
from tunelab.tasks.classification import ClassificationTrainConfig
from tunelab.tasks.export_modules import TokenLogits
from tunelab.tasks.targets import SINGLE, TargetTask
from tunelab.tasks.text.config import TextDataConfig, TextModelConfig

SAMPLE_TEXTS = (
    ["a short one", "and a somewhat longer sentence to check padding and length"],
    ["one more text, on its own, with a different length from the others"],
)
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


@register_task
class TextTask(TargetTask):
    """Classify texts with a pre-trained encoder and a new pooled head."""

    name = "text_classification"
    noun = "texts"
    input_key = "text"
    request_key = "texts"

    def sections(self) -> TaskSections:
        return TaskSections(
            TextModelConfig,
            TextDataConfig,
            ClassificationTrainConfig,
            extra={"self_training": SelfTrainingConfig},
        )

    def prepare_data(self, cfg: Config):
        from tunelab.tasks.targets import check_settings
        from tunelab.tasks.text.data import prepare_text_data
        from tunelab.tasks.text.targets import prepare_target_data

        single = cfg.data.problem_type == SINGLE
        if not single:
            check_settings(cfg)
        prepare = prepare_text_data if single else prepare_target_data
        splits = prepare(cfg.data, seed=cfg.data.seed)
        if cfg.model.trust_remote_code:
            splits.warnings.append(
                f"model.trust_remote_code is on: Python files in {cfg.model.name} may run "
                "when it loads; use it only for a folder you trust"
            )
        return splits

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.text.model import build_text_classifier

        model, tokenizer, path = build_text_classifier(cfg.model, len(splits.labels))
        return BuiltModel(model, tokenizer, path)

    def train_labels(self, splits) -> list[str]:
        return splits.train["label"].tolist()

    def subset_train(self, splits, indices: list[int]):
        from tunelab.data.checks import subset_train_summary

        train = splits.train.iloc[indices].reset_index(drop=True)
        summary = subset_train_summary(splits.summary, splits.train, train)
        return dataclasses.replace(
            splits, train=train, summary=summary, warnings=summary["warnings"]
        )

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, TokenBatches]:
        single = cfg.data.problem_type == SINGLE
        label_ids = {label: i for i, label in enumerate(splits.labels)}
        frames = {name: getattr(splits, name) for name in SPLIT_NAMES}
        if single:  # other problem types refuse data.augment (TextDataConfig)
            frames["train"] = _augmented_train(cfg, built, splits, console)
        sources = {
            name: TokenBatches.from_texts(
                built.processor,
                frame["text"].tolist(),
                [label_ids[v] for v in frame["label"]] if single else [0] * len(frame),
                cfg.model.max_length,
            )
            for name, frame in frames.items()
        }
        if single:
            return sources
        from tunelab.tasks.text.targets import with_targets

        return with_targets(sources, splits, cfg)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device: Any) -> dict:
        """Multi-label runs: thresholds tuned on validation and the test scores they give."""
        from tunelab.tasks.targets import final_target_metrics

        return final_target_metrics(self, cfg, model, built, splits, device)

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        from tunelab.features import cache_key

        options = {
            "model": cfg.model.model_dump(exclude={"head"}),
            "pretrained": cfg.model.pretrained,
        }
        if split == "train" and cfg.data.augment.copies:  # the copies are seeded
            options["augment"] = {**cfg.data.augment.model_dump(), "seed": cfg.train.seed}
        return cache_key(built.source, options, getattr(splits, split)["text"].tolist())

    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.text.predictor import Predictor

        base = Predictor(model, built.processor, splits.labels, cfg.model.max_length, device)
        if cfg.data.problem_type == SINGLE:
            return base
        from tunelab.tasks.targets import card_fields
        from tunelab.tasks.text.targets import target_predictor

        return target_predictor(base, card_fields(cfg, splits, self.train_labels(splits)))

    def examples(self, split) -> tuple[list, list[str]]:
        return split["text"].tolist(), split["label"].tolist()

    def take(self, split, rows: list[int]):
        return split.iloc[rows].reset_index(drop=True)

    def class_labels(self, splits, split: str) -> list[str] | None:
        if splits.summary.get("problem_type", SINGLE) != SINGLE:
            return None
        return getattr(splits, split)["label"].tolist()

    def input_sizes(self, splits, split: str) -> dict[str, list[float]]:
        texts = getattr(splits, split)["text"]
        return {
            "characters": texts.str.len().tolist(),
            "words": texts.str.split().str.len().tolist(),
        }

    def concat(self, first, second):
        return pd.concat([first, second], ignore_index=True)

    def overlap_keys(self, split) -> list[str]:
        from tunelab.data.checks import normalize_for_overlap

        return [normalize_for_overlap(text) for text in split["text"]]

    def read_unlabeled(self, cfg: Config, source: str) -> pd.DataFrame:
        """Columns ``text`` and ``label`` (None where the file has no label)."""
        from tunelab.tasks.text.unlabeled import read_unlabeled_texts

        if cfg.data.problem_type != "single_label":
            raise ConfigError(
                "data.unlabeled: self-training pseudo-labels single-label classes, not "
                f"problem_type {cfg.data.problem_type}; drop data.unlabeled"
            )
        return read_unlabeled_texts(cfg.data, source)

    def relabel(self, split, labels: list[str]) -> pd.DataFrame:
        return split.assign(label=list(labels))

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.text.save import save_model

        path = save_model(model_dir, model, built.processor, splits.labels, cfg, built.source)
        if cfg.data.problem_type != SINGLE:  # what the loaded model needs to predict
            from tunelab.run_dir import read_model_card, write_model_card
            from tunelab.tasks.targets import card_fields

            fields = card_fields(cfg, splits, self.train_labels(splits))
            write_model_card(path, {**read_model_card(path), **fields})
        return path

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.text.predictor import load_text_predictor

        predictor = load_text_predictor(model_dir, card, device)
        if card.get("problem_type", SINGLE) == SINGLE:
            return predictor
        from tunelab.tasks.text.targets import target_predictor

        return target_predictor(predictor, card)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """Input records: ``{"text"}`` per argument, then ``{"line" | "row", "text"}`` per
        line of a ``.txt`` or row of a table; an unusable one carries an ``error``."""
        from tunelab.tasks.text.predictor import read_texts, text_records

        return text_records(arguments) + (read_texts(input_file, run_dir) if input_file else [])

    def request_inputs(self, payload: dict[str, Any]) -> list:
        texts = payload.get("texts")
        if texts is None or set(payload) != {"texts"}:
            raise ValueError('this model classifies texts: send {"texts": [...]}')
        if any(not isinstance(text, str) or not text.strip() for text in texts):
            raise ValueError("texts must be non-empty strings")
        return texts

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.text.evaluate import evaluate_texts

        if getattr(predictor, "problem_type", SINGLE) != SINGLE:
            from tunelab.tasks.text.targets import evaluate_text_targets

            return evaluate_text_targets(predictor, run_dir, source, columns)
        return evaluate_texts(predictor, run_dir, source, columns)

    def export_signature(self, predictor) -> ExportSignature:
        samples = []
        for texts in SAMPLE_TEXTS:
            batch = predictor.tokenizer(
                texts,
                padding=True,
                truncation=True,
                max_length=predictor.max_length,
                return_tensors="pt",
            )
            samples.append({k: batch[k] for k in TEXT_INPUTS if k in batch})
        dynamic = {name: {0: "batch", 1: "sequence"} for name in samples[0]}
        return ExportSignature(TokenLogits(predictor.model), samples, dynamic)

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.text.model import build_text_classifier

        model, _, _ = build_text_classifier(TextModelConfig(name=model_name), num_classes=2)
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def embedding(self, cfg: Config):
        """The pooled sentence embedding (``TextClassifier.encode``); single-label data
        only: pairs are positive when their texts share their one label."""
        if cfg.data.problem_type != SINGLE:
            raise ConfigError(
                f"strategy.name={cfg.strategy.name} pairs texts by their one label; "
                f"data.problem_type={cfg.data.problem_type} is not single_label: use "
                "single_label data or another strategy"
            )
        from tunelab.tasks.text.representation import pooled_embedding

        return pooled_embedding

    def drift_embeddings(self, cfg: Config, run_dir: Path, limit: int):
        from tunelab.tasks.text.representation import pretrained_and_tuned_embeddings

        return pretrained_and_tuned_embeddings(cfg, run_dir, limit)

    def old_task_score(self, cfg: Config, run_dir: Path, limit: int) -> dict | None:
        """Answer retrieval of the sentence encoder before vs after (tasks.text.old_task)."""
        from tunelab.tasks.text.old_task import old_task_score

        return old_task_score(cfg, run_dir, limit)


def _augmented_train(cfg: Config, built: BuiltModel, splits, console: Console) -> pd.DataFrame:
    """The training rows plus ``data.augment`` copies (recorded in the data summary)."""
    augment = cfg.data.augment
    if not augment.copies:
        return splits.train
    from tunelab.tasks.text.augment import augment_train

    train, record = augment_train(
        splits.train, augment, built.processor, built.model.backbone, cfg.train.seed
    )
    splits.summary["augment"] = record
    console.print(
        f"data.augment: {record['added']} augmented copies of {record['original']} "
        "training texts added (validation and test unchanged)"
    )
    return train
