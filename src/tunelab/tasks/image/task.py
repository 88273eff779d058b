"""Image classification: timm CNNs, images decoded once, augmentation per batch.

The model directory holds ``model.safetensors`` (the whole classifier, or with unmerged
LoRA: the head and the backbone's BatchNorm statistics), ``adapter/`` for LoRA, and
``tunelab_model.json`` with the labels, the architecture, where the base weights come
from and the preprocessing (size, mean, std, interpolation) prediction must repeat.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from tunelab.config import Config
from tunelab.self_training import SelfTrainingConfig
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    TaskSections,
    register_task,
)
from tunelab.tasks.classification import ClassificationTrainConfig
from tunelab.tasks.export_modules import ExportModule
from tunelab.tasks.image.config import ImageDataConfig, ImageModelConfig
from tunelab.tasks.image.evaluate import evaluate_images
from tunelab.tasks.image.predictor import ImagePredictor, load_image_predictor
from tunelab.tasks.image.save import save_image_model
from tunelab.tasks.targets import SINGLE, TargetTask


@register_task
class ImageTask(TargetTask):
    """Fine-tune a timm CNN on an image folder, a path,label table or packaged arrays."""

    name = "image_classification"
    noun = "images"
    input_key = "image"
    request_key = "images"
    request_is_text = False

    def sections(self) -> TaskSections:
        return TaskSections(
            ImageModelConfig,
            ImageDataConfig,
            ClassificationTrainConfig,
            extra={"self_training": SelfTrainingConfig},
        )

    def owns_model(self, model_name: str) -> bool:
        from tunelab.tasks.image.model import is_image_model

        return is_image_model(model_name)

    def train_labels(self, splits) -> list[str]:
        return list(splits.train.labels)

    def prepare_data(self, cfg: Config):
        from tunelab.tasks.image.data import prepare_image_data
        from tunelab.tasks.image.transforms import resolve_preprocessing

        pre = resolve_preprocessing(cfg.model)
        if cfg.data.problem_type == SINGLE:
            return prepare_image_data(cfg.data, pre, cfg.data.seed)
        from tunelab.tasks.image.targets import image_class_keys, prepare_image_targets
        from tunelab.tasks.targets import check_settings

        check_settings(cfg, image_class_keys(cfg))
        return prepare_image_targets(cfg.data, pre, cfg.data.seed)

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.image.model import build_image_classifier
        from tunelab.tasks.image.transforms import resolve_preprocessing

        model, source = build_image_classifier(cfg.model, len(splits.labels))
        return BuiltModel(model, resolve_preprocessing(cfg.model), source)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.image.batches import ImageBatches
        from tunelab.tasks.image.transforms import (
            augmentation_active,
            build_augmentation,
            build_batch_mix,
        )

        sources = {
            name: ImageBatches(
                getattr(splits, name).images,
                _targets(getattr(splits, name), splits.labels, cfg),
                built.processor,
            )
            for name in SPLIT_NAMES
        }
        augment = cfg.data.augment
        if cached:
            if augmentation_active(augment):
                console.print(
                    "[yellow]note:[/] feature_extraction computes features once, "
                    "so data.augment is not applied (train a backbone group, e.g. "
                    "top_k, to use augmentation)"
                )
            return sources
        train = sources["train"]
        train.augment = build_augmentation(augment, built.processor)
        train.mix = build_batch_mix(augment, len(splits.labels))
        return sources

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device: Any) -> dict:
        """Multi-label runs: thresholds tuned on validation and the test scores they give."""
        from tunelab.tasks.targets import final_target_metrics

        return final_target_metrics(self, cfg, model, built, splits, device)

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        digest = hashlib.sha256()
        source = built.source
        if source is not None:
            stat = source.stat()
            digest.update(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        options = {
            "model": cfg.model.name,
            "pretrained": cfg.model.pretrained,
            "preprocessing": built.processor.to_dict(),
            "seed": None if cfg.model.pretrained else cfg.train.seed,
            "init_from": cfg.model.init_from,  # a continual update starts from other weights
        }
        digest.update(json.dumps(options, sort_keys=True).encode())
        digest.update(getattr(splits, split).images.numpy().tobytes())
        return digest.hexdigest()[:24]

    def predictor(
        self, model, built: BuiltModel, splits, cfg: Config, device: Any
    ) -> ImagePredictor:
        base = ImagePredictor(model, built.processor, splits.labels, device)
        if cfg.data.problem_type == SINGLE:
            return base
        from tunelab.tasks.image.targets import target_image_predictor
        from tunelab.tasks.targets import card_fields

        return target_image_predictor(base, card_fields(cfg, splits, self.train_labels(splits)))

    def examples(self, split) -> tuple[list, list[str]]:
        return [image.permute(1, 2, 0).numpy() for image in split.images], list(split.labels)

    def take(self, split, rows: list[int]):
        return split.take(rows)

    def input_sizes(self, splits, split: str) -> dict[str, list[float]]:
        """Original widths and heights (before resizing to the model's input)."""
        images = getattr(splits, split)
        if not images.widths:
            return {}
        return {"width (px)": list(images.widths), "height (px)": list(images.heights)}

    def concat(self, first, second):
        return first.concat(second)

    def overlap_keys(self, split) -> list[str]:
        from tunelab.tasks.image.decode import image_hashes

        return image_hashes(split.images)

    def read_unlabeled(self, cfg: Config, source: str):
        """Decoded images, labelled only where the source has labels (None elsewhere)."""
        from tunelab.tasks.image.transforms import resolve_preprocessing
        from tunelab.tasks.image.unlabeled import read_unlabeled_images

        return read_unlabeled_images(cfg.data, resolve_preprocessing(cfg.model), source)

    def relabel(self, split, labels: list[str]):
        from dataclasses import replace

        return replace(split, labels=list(labels))

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        extra = {}
        if cfg.data.problem_type != SINGLE:  # what the loaded model needs to predict
            from tunelab.tasks.targets import card_fields

            extra = card_fields(cfg, splits, self.train_labels(splits))
        return save_image_model(model_dir, model, built, splits.labels, cfg, extra)

    def load_predictor(self, model_dir: Path, card: dict, device: str) -> ImagePredictor:
        predictor = load_image_predictor(model_dir, card, device)
        if card.get("problem_type", SINGLE) == SINGLE:
            return predictor
        from tunelab.tasks.image.targets import target_image_predictor

        return target_image_predictor(predictor, card)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """Input records: ``{"image": path}`` per argument, then ``{"line": N, "image":
        path}`` per line of a ``.txt`` file of paths (lines end at ``\\n`` only; a blank
        line is a record with an ``error``, so outputs stay aligned with the lines)."""
        records = [{"image": path} for path in arguments]
        if input_file is not None:
            records += read_path_lines(Path(input_file))
        return records

    def request_inputs(self, payload: dict[str, Any]) -> list:
        images = payload.get("images")
        if images is None or set(payload) != {"images"}:
            raise ValueError('this model classifies images: send {"images": [base64, ...]}')
        return [decode_base64_image(data, i) for i, data in enumerate(images)]

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        return evaluate_images(predictor, run_dir, source, columns.get("label"))

    def export_signature(self, predictor) -> ExportSignature:
        size = predictor.preprocessing.size
        generator = torch.Generator().manual_seed(0)
        samples = [
            {"pixel_values": torch.randn(n, 3, size, size, generator=generator)} for n in (2, 1)
        ]
        return ExportSignature(
            _ImageLogits(predictor.model), samples, {"pixel_values": {0: "batch"}}
        )

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.image.model import build_image_classifier

        model, _ = build_image_classifier(ImageModelConfig(name=model_name, pretrained=False), 2)
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def old_task_score(self, cfg: Config, run_dir: Path, limit: int) -> dict | None:
        """ImageNet top-1 agreement of the tuned backbone (tasks.image.old_task)."""
        from tunelab.tasks.image.old_task import old_task_score

        return old_task_score(cfg, run_dir, limit)


def _targets(images, labels: list[str], cfg: Config) -> torch.Tensor:
    """A split's label ids, or (multi-label, regression) its float targets."""
    if cfg.data.problem_type != SINGLE:
        from tunelab.tasks.image.targets import target_tensor

        return target_tensor(images, labels, cfg.data)
    ids = {label: i for i, label in enumerate(labels)}
    return torch.tensor([ids[v] for v in images.labels])


class _ImageLogits(ExportModule):
    """Normalised pixels -> logits, with a named argument for ONNX."""

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).float()


def read_path_lines(path: Path) -> list[dict]:
    """``{"line": N, "image": path}`` per line of a ``.txt`` file, blank lines included.

    Raises:
        DataError: the file does not exist.
    """
    from tunelab.io import read_line_records

    return read_line_records(path, "image", "empty path", "pass a .txt of paths")


def decode_base64_image(data: str, index: int):
    """A PIL image from a base64-encoded image file; ValueError naming the bad item."""
    import base64
    import binascii
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = ImageOps.exif_transpose(
            Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        )
        image.load()
    except (binascii.Error, UnidentifiedImageError, OSError) as err:
        raise ValueError(f"images[{index}]: not a base64-encoded image file ({err})") from None
    return image
