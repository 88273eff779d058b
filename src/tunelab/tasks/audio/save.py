"""The ``model/`` directory of an audio run, and the predictor rebuilt from it.

It holds ``model.safetensors`` (the whole classifier: encoder and head),
``backbone_config.json`` (the HF config of the encoder as trained, e.g. Whisper's
shortened position table), ``preprocessor_config.json`` (the model's feature extractor)
and ``tunelab_model.json`` (labels, clip policy, head). LoRA adapters are always merged
before saving: the encoders here are small (Whisper tiny.en's is 7.6M parameters), and
one format means one loading path that needs neither peft nor the base weights package.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from tunelab.config import Config
from tunelab.errors import RunDirError
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import is_lora, merged
from tunelab.tasks.audio.decode import ClipPolicy
from tunelab.tasks.audio.model import AudioClassifier, AudioFrontend
from tunelab.tasks.classification import HeadConfig

BACKBONE_CONFIG = "backbone_config.json"


def save_audio_model(
    model_dir: Path, model: AudioClassifier, frontend: AudioFrontend, labels: list[str], cfg: Config
) -> Path:
    """Write ``model_dir`` atomically (LoRA merged first)."""
    if is_lora(model.backbone):
        model.backbone = merged(model.backbone)
    card = {
        "task": "audio_classification",
        "labels": labels,
        "format": "full",
        "model": cfg.model.name,
        "model_type": model.backbone.config.model_type,
        "clip": frontend.to_dict(),
        "head": cfg.model.head.model_dump(),
        "strategy": cfg.strategy.name,
    }

    def fill(tmp: Path) -> None:
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / BACKBONE_CONFIG).write_text(model.backbone.config.to_json_string())
        frontend.extractor.save_pretrained(str(tmp))
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)


def load_audio_predictor(model_dir: Path, card: dict, device: str = "cpu"):
    """Rebuild a saved audio classifier as a predictor (no base weights needed)."""
    from transformers import AutoFeatureExtractor

    from tunelab.models.head import ClassificationHead
    from tunelab.tasks.audio.predictor import AudioPredictor

    encoder = _encoder_from_config(json.loads((model_dir / BACKBONE_CONFIG).read_text()))
    head = ClassificationHead.from_config(
        encoder.config.hidden_size, len(card["labels"]), HeadConfig(**card["head"])
    )
    clip = card["clip"]
    model = AudioClassifier(encoder, head, clip["input_name"])
    _, unexpected = model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    if unexpected:
        raise RunDirError(f"{model_dir}: weights do not match the model ({unexpected[:3]})")
    extractor = AutoFeatureExtractor.from_pretrained(str(model_dir), trust_remote_code=False)
    policy = ClipPolicy(clip["sample_rate"], clip["clip_samples"], clip["crop"])
    frontend = AudioFrontend(extractor, policy, clip["input_name"], clip["layout"])
    return AudioPredictor(model, frontend, card["labels"], device)


def _encoder_from_config(data: dict):
    """The encoder architecture of a saved config (Whisper: its encoder half only)."""
    from transformers import AutoModel
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = CONFIG_MAPPING[data["model_type"]].from_dict(data)
    if config.model_type == "whisper":
        from transformers.models.whisper.modeling_whisper import WhisperEncoder

        return WhisperEncoder(config)
    return AutoModel.from_config(config)
