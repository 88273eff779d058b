"""Audio classification: an audio encoder, clips decoded once, augmentation per batch."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from tunelab.config import Config
from tunelab.tasks.audio.config import AudioDataConfig, AudioModelConfig
from tunelab.tasks.base import SPLIT_NAMES, BuiltModel, ExportSignature, TaskSections, register_task
from tunelab.tasks.classification import ClassificationTask, ClassificationTrainConfig
from tunelab.tasks.export_modules import ExportModule


@register_task
class AudioTask(ClassificationTask):
    """Fine-tune an audio encoder on a folder of class sub-folders or a path,label table."""

    name = "audio_classification"
    noun = "clips"
    input_key = "audio"
    request_key = "audio"
    request_is_text = False

    def sections(self) -> TaskSections:
        return TaskSections(AudioModelConfig, AudioDataConfig, ClassificationTrainConfig)

    def train_labels(self, splits) -> list[str]:
        return list(splits.train.labels)

    def prepare_data(self, cfg: Config):
        from tunelab.tasks.audio.data import prepare_audio_data
        from tunelab.tasks.audio.model import resolve_clip_policy

        policy = resolve_clip_policy(cfg.model, cfg.data.clip_seconds, cfg.data.crop)
        return prepare_audio_data(cfg.data, policy, cfg.data.seed)

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.audio.model import build_audio_classifier

        model, frontend, source = build_audio_classifier(
            cfg.model, len(splits.labels), cfg.data.clip_seconds, cfg.data.crop
        )
        return BuiltModel(model, frontend, source)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.audio.augment import augmentation_active, build_augmentation
        from tunelab.tasks.audio.batches import AudioBatches

        frontend = built.processor
        cut = {name: sum(getattr(splits, name).cut) for name in SPLIT_NAMES}
        console.print(
            f"{frontend.policy.describe()} (cut: "
            + ", ".join(f"{cut[n]} of {len(getattr(splits, n))} {n}" for n in SPLIT_NAMES)
            + ")"
        )
        ids = {label: i for i, label in enumerate(splits.labels)}
        sources = {
            name: AudioBatches(
                getattr(splits, name).waves,
                torch.tensor([ids[v] for v in getattr(splits, name).labels]),
                frontend,
            )
            for name in SPLIT_NAMES
        }
        augment = cfg.data.augment
        if cached:
            if augmentation_active(augment):
                console.print(
                    "[yellow]note:[/] feature_extraction computes features once, so "
                    "data.augment is not applied (train a backbone group, e.g. top_k, to use it)"
                )
            return sources
        train = sources["train"]
        policy = frontend.policy
        train.wave_augment, train.spec_augment = build_augmentation(
            augment, policy.sample_rate, policy.crop, frontend.layout, cfg.train.seed
        )
        return sources

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        digest = hashlib.sha256()
        source = built.source
        if source is not None:
            files = [source] if source.is_file() else sorted(source.iterdir())
            for file in (f for f in files if f.is_file()):
                stat = file.stat()
                digest.update(f"{file.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        options = {
            "model": cfg.model.name,
            "pretrained": cfg.model.pretrained,
            "frontend": built.processor.to_dict(),
            "seed": None if cfg.model.pretrained else cfg.train.seed,
            "init_from": cfg.model.init_from,
        }
        digest.update(json.dumps(options, sort_keys=True).encode())
        digest.update(getattr(splits, split).waves.numpy().tobytes())
        return digest.hexdigest()[:24]

    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.audio.predictor import AudioPredictor

        return AudioPredictor(model, built.processor, splits.labels, device)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device: Any) -> dict:
        """The misclassified test clips the report draws (``test.misclassified``)."""
        from tunelab.tasks.audio.report import misclassified

        predictor = self.predictor(model, built, splits, cfg, device)
        return {"test": {"misclassified": misclassified(predictor, splits.test)}}

    def examples(self, split) -> tuple[list, list[str]]:
        return [wave.numpy() for wave in split.waves], list(split.labels)

    def take(self, split, rows: list[int]):
        return split.take(rows)

    def input_sizes(self, splits, split: str) -> dict[str, list[float]]:
        """Durations and sample rates of the files as read (before clipping, resampling)."""
        clips = getattr(splits, split)
        sizes = {"duration (s)": list(clips.durations), "sample rate (Hz)": list(clips.rates)}
        return {measure: values for measure, values in sizes.items() if values}

    def concat(self, first, second):
        return first.concat(second)

    def overlap_keys(self, split) -> list[str]:
        from tunelab.data.class_folders import content_hashes

        return content_hashes(split.waves)

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.audio.save import save_audio_model

        return save_audio_model(model_dir, model, built.processor, splits.labels, cfg)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.audio.save import load_audio_predictor

        return load_audio_predictor(model_dir, card, device)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """Input records: ``{"audio": path}`` per argument, then ``{"line": N, "audio":
        path}`` per line of a ``.txt`` of paths (a blank line is a record with an
        ``error``, so outputs stay aligned with the lines)."""
        from tunelab.io import read_line_records

        records = [{"audio": path} for path in arguments]
        if input_file is not None:
            records += read_line_records(
                Path(input_file), "audio", "empty path", "pass a .txt of audio file paths"
            )
        return records

    def request_inputs(self, payload: dict[str, Any]) -> list:
        clips = payload.get("audio")
        if clips is None or set(payload) != {"audio"} or not isinstance(clips, list):
            raise ValueError('this model classifies audio: send {"audio": [base64 file, ...]}')
        return [decode_base64_audio(data, i) for i, data in enumerate(clips)]

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.audio.evaluate import evaluate_audio

        return evaluate_audio(predictor, run_dir, source, columns.get("label"))

    def export_signature(self, predictor) -> ExportSignature:
        frontend = predictor.frontend
        generator = torch.Generator().manual_seed(0)
        samples = []
        for n in (2, 1):
            waves = 0.1 * torch.randn(n, frontend.policy.clip_samples, generator=generator)
            samples.append({frontend.input_name: frontend(list(waves.numpy()))})
        return ExportSignature(
            _EXPORT_MODULES[frontend.input_name](predictor.model),
            samples,
            {frontend.input_name: {0: "batch"}},
        )

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.audio.model import build_audio_classifier

        cfg = AudioModelConfig(name=model_name, pretrained=False)
        model, _, _ = build_audio_classifier(cfg, 2, 1.0, "start")
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def report_sections(self, run: Any) -> list:
        from tunelab.tasks.audio.report import audio_report_sections

        return super().report_sections(run) + audio_report_sections(run)


class _FeatureLogits(ExportModule):
    """Spectrogram ``input_features`` (Whisper) -> logits, a named argument for ONNX."""

    def forward(self, input_features: torch.Tensor) -> torch.Tensor:
        return self.model(input_features=input_features).float()


class _ValueLogits(ExportModule):
    """``input_values`` (Wav2Vec2 / HuBERT samples, AST filter bank) -> logits."""

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return self.model(input_values=input_values).float()


_EXPORT_MODULES = {"input_features": _FeatureLogits, "input_values": _ValueLogits}


def decode_base64_audio(data: Any, index: int) -> tuple:
    """``(mono samples, rate)`` of a base64-encoded audio file; ValueError naming the item."""
    import base64
    import binascii
    import io

    import soundfile

    try:
        samples, rate = soundfile.read(
            io.BytesIO(base64.b64decode(data, validate=True)), dtype="float32", always_2d=True
        )
    except (binascii.Error, TypeError, RuntimeError, OSError, ValueError) as err:
        reason = err.__class__.__name__
        raise ValueError(f"audio[{index}]: not a base64-encoded audio file ({reason})") from None
    return samples.mean(axis=1), int(rate)
