"""Image classification: timm CNNs, images decoded once, augmentation per batch.

The model directory holds ``model.safetensors`` (the whole classifier, or with unmerged
LoRA: the head and the backbone's BatchNorm statistics), ``adapter/`` for LoRA, and
``tunelab_model.json`` with the labels, the architecture, where the base weights come
from and the preprocessing (size, mean, std, interpolation) prediction must repeat.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from safetensors.torch import load_file, save_file

from tunelab.config import Config
from tunelab.errors import DataError, RunDirError
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import is_lora, merge_requested, merged
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    TaskSections,
    register_task,
)
from tunelab.tasks.classification import (
    ClassificationTask,
    ClassificationTrainConfig,
    HeadConfig,
    Prediction,
    predictions,
)
from tunelab.tasks.image.config import ImageDataConfig, ImageModelConfig


@register_task
class ImageTask(ClassificationTask):
    """Fine-tune a timm CNN on an image folder, a path,label table or packaged arrays."""

    name = "image_classification"
    noun = "images"
    input_key = "image"
    request_key = "images"
    request_is_text = False

    def sections(self) -> TaskSections:
        return TaskSections(ImageModelConfig, ImageDataConfig, ClassificationTrainConfig)

    def owns_model(self, model_name: str) -> bool:
        from tunelab.tasks.image.model import is_image_model

        return is_image_model(model_name)

    def train_labels(self, splits) -> list[str]:
        return list(splits.train.labels)

    def prepare_data(self, cfg: Config):
        from tunelab.tasks.image.data import prepare_image_data
        from tunelab.tasks.image.transforms import resolve_preprocessing

        return prepare_image_data(cfg.data, resolve_preprocessing(cfg.model), cfg.data.seed)

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

        ids = {label: i for i, label in enumerate(splits.labels)}
        sources = {
            name: ImageBatches(
                getattr(splits, name).images,
                torch.tensor([ids[v] for v in getattr(splits, name).labels]),
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
        return ImagePredictor(model, built.processor, splits.labels, device)

    def examples(self, split) -> tuple[list, list[str]]:
        return [image.permute(1, 2, 0).numpy() for image in split.images], list(split.labels)

    def take(self, split, rows: list[int]):
        return split.take(rows)

    def concat(self, first, second):
        return first.concat(second)

    def overlap_keys(self, split) -> list[str]:
        from tunelab.tasks.image.decode import image_hashes

        return image_hashes(split.images)

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        return save_image_model(model_dir, model, built, splits.labels, cfg)

    def load_predictor(self, model_dir: Path, card: dict, device: str) -> ImagePredictor:
        return load_image_predictor(model_dir, card, device)

    def read_inputs(self, run_dir: Path, arguments: list[str], input_file: Path | None) -> list:
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


class _ImageLogits(torch.nn.Module):
    """Normalised pixels -> logits, with a named argument for ONNX."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

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


class ImagePredictor:
    """A trained image classifier with its preprocessing and labels.

    ``predict`` takes file paths, PIL images or arrays (HxW grayscale, HxWx3 RGB), one
    or a list; every image is preprocessed exactly as in training (RGB, shorter side
    resized, centre crop, pretrained mean/std).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessing,
        labels: list[str],
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.preprocessing, self.labels = preprocessing, labels
        self.device = torch.device(device)

    @torch.inference_mode()
    def predict_proba(self, images: Any, batch_size: int = 64) -> torch.Tensor:
        """Class probabilities, one row per image, in input order."""
        from tunelab.tasks.image.decode import open_image

        items = as_image_list(images)
        out = torch.empty(len(items), len(self.labels))
        for start in range(0, len(items), batch_size):
            chunk = [
                open_image(str(x)) if isinstance(x, str | Path) else x
                for x in items[start : start + batch_size]
            ]
            uint8 = [self.preprocessing.to_uint8(x) for x in chunk]
            out[start : start + len(chunk)] = self._probabilities(uint8)
        return out

    def _probabilities(self, uint8: list[torch.Tensor]) -> torch.Tensor:
        pixels = self.preprocessing.normalize(torch.stack(uint8))
        logits = self.model(pixel_values=pixels.to(self.device))
        return logits.float().softmax(-1).cpu()

    @torch.inference_mode()
    def predict_records(self, records: Sequence[dict], batch_size: int = 64) -> list[dict]:
        """Each input record (``{"image": path, ...}``) with its prediction, in order.

        A file that is missing or not a readable image (zero bytes, truncated, another
        format) costs only its own prediction: its record gets an ``error`` naming it,
        the others are predicted. A record that already holds an ``error`` is kept.
        """
        out = [dict(record) for record in records]
        for start in range(0, len(out), batch_size):
            chunk = out[start : start + batch_size]
            ready = {i: x for i, x in enumerate(self._decode_records(chunk)) if x is not None}
            if ready:
                probabilities = self._probabilities(list(ready.values()))
                for i, prediction in zip(
                    ready, predictions(self.labels, probabilities), strict=True
                ):
                    chunk[i].update(prediction.to_dict())
        return out

    def _decode_records(self, records: list[dict]) -> list[torch.Tensor | None]:
        """Pixels per record (None where it failed; the record then gets an ``error``)."""
        from tunelab.tasks.image.decode import _UNREADABLE, open_image

        decoded: list[torch.Tensor | None] = []
        for record in records:
            if "error" in record:
                decoded.append(None)
                continue
            try:
                decoded.append(self.preprocessing.to_uint8(open_image(str(record["image"]))))
            except _UNREADABLE as err:
                reason = " ".join(f"{err.__class__.__name__}: {err}".split())
                record["error"] = f"cannot read image '{record['image']}' ({reason})"
                decoded.append(None)
        return decoded

    def predict(self, images: Any, batch_size: int = 64) -> list[Prediction]:
        """Predicted label and per-label probabilities for each image."""
        items = as_image_list(images)
        if not items:
            return []
        return predictions(self.labels, self.predict_proba(items, batch_size))


def as_image_list(images: Any) -> list:
    """One image (path, PIL image, HxW / HxWxC array) or many, as a list."""
    if isinstance(images, str | Path) or hasattr(images, "mode"):
        return [images]
    if isinstance(images, np.ndarray | torch.Tensor):
        single = images.ndim == 2 or (images.ndim == 3 and images.shape[-1] in (1, 3, 4))
        return [images] if single else list(images)
    return list(images) if isinstance(images, Sequence) else [images]


def save_image_model(
    model_dir: Path, model, built: BuiltModel, labels: list[str], cfg: Config
) -> Path:
    """Write ``model_dir`` atomically; merge LoRA first when ``strategy.lora.merge``."""
    from tunelab.tasks.image.model import architecture

    # A LoRA adapter is reloaded onto its base weights; a random base (model.pretrained:
    # false) cannot be rebuilt, so then the adapter is merged and the whole model saved.
    if merge_requested(cfg.strategy) or built.source is None:
        model.backbone = merged(model.backbone)
    lora = is_lora(model.backbone)
    card = {
        "task": "image_classification",
        "labels": labels,
        "format": "lora" if lora else "full",
        "model": cfg.model.name,
        "architecture": architecture(cfg.model.name),
        "weights": cfg.model.weights,
        "base_weights": str(built.source) if built.source else None,
        "preprocessing": built.processor.to_dict(),
        "head": cfg.model.head.model_dump(),
        "freeze_bn": cfg.model.freeze_bn,
        "strategy": cfg.strategy.name,
    }

    def fill(tmp: Path) -> None:
        state = model.state_dict()
        if lora:
            model.backbone.save_pretrained(str(tmp / "adapter"))
            buffers = {f"backbone.{n}" for n, _ in model.backbone.named_buffers()}
            state = {k: v for k, v in state.items() if k.startswith("head.") or k in buffers}
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in state.items()},
            str(tmp / "model.safetensors"),
        )
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)


def load_image_predictor(model_dir: Path, card: dict, device: str = "cpu") -> ImagePredictor:
    """Rebuild a saved image classifier (LoRA: base weights + adapter) as a predictor."""
    from tunelab.tasks.image.model import build_image_classifier
    from tunelab.tasks.image.transforms import ImagePreprocessing

    lora = card["format"] == "lora"
    model_cfg = ImageModelConfig(
        name=card["model"],
        weights=card.get("weights"),
        pretrained=lora,
        freeze_bn=card.get("freeze_bn", True),
        head=HeadConfig(**card["head"]),
    )
    model, _ = build_image_classifier(model_cfg, len(card["labels"]))
    if lora:
        from tunelab.strategies.lora import load_adapter

        model.backbone = load_adapter(model.backbone, model_dir / "adapter")
    weights = load_file(str(model_dir / "model.safetensors"))
    _, unexpected = model.load_state_dict(weights, strict=not lora)
    if unexpected:
        raise RunDirError(f"{model_dir}: weights do not match the model ({unexpected[:3]})")
    pre = card["preprocessing"]
    preprocessing = ImagePreprocessing(
        pre["size"], tuple(pre["mean"]), tuple(pre["std"]), pre["interpolation"]
    )
    return ImagePredictor(model, preprocessing, card["labels"], device)


def evaluate_images(
    predictor: ImagePredictor,
    run_dir: Path,
    data: str,
    label_column: str | None,
    latency_samples: int = 50,
) -> dict:
    """Metrics of an image run's model on a labelled folder or path,label table.

    Columns default to the run's ``data.path_column`` / ``data.label_column``; a file that
    is not a readable image is an error naming it, or skipped with the run's
    ``data.on_bad_image: skip``.

    Raises:
        DataError: unreadable source or image, or labels the model was never trained on.
    """
    from tunelab.config import load_config
    from tunelab.metrics import classification_metrics, measure_latency
    from tunelab.tasks.image.decode import DecodeReport, decode_entries
    from tunelab.tasks.image.sources import list_source

    run_data = (
        load_config(run_dir / "config.yaml").data if (run_dir / "config.yaml").is_file() else None
    )
    data_cfg = (run_data or load_config().data).model_copy(
        update={"label_column": label_column or (run_data.label_column if run_data else "label")}
    )
    entries = list_source(data, "--data", data_cfg)
    images = decode_entries(
        entries, predictor.preprocessing, data_cfg.on_bad_image, "--data", DecodeReport()
    )
    unknown = sorted(set(images.labels) - set(predictor.labels))
    if unknown:
        raise DataError(
            f"--data {data}: label '{unknown[0]}' was not seen in training "
            f"(known: {', '.join(predictor.labels)}); remove those images"
        )
    arrays = [image.permute(1, 2, 0).numpy() for image in images.images]
    probs = predictor.predict_proba(arrays)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics(
        [ids[v] for v in images.labels], probs.argmax(-1).tolist(), predictor.labels
    )
    metrics.update(
        measure_latency(lambda a: predictor.predict_proba([a]), arrays[:latency_samples])
    )
    metrics["n"] = len(arrays)
    return metrics
