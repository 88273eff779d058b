"""Tiny audio encoders (random-init, from real HF configs) and labelled tone clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TONES = {"low": 300.0, "mid": 900.0, "high": 2500.0}


def tone(freq: float, seconds: float, rate: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A sine at ``freq`` with a little noise, shape ``[samples]`` or ``[samples, ch]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.4 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
    wave = wave.astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


def write_tones(root: Path, per_class: int, seed: int = 0) -> Path:
    """``root/<class>/<n>.wav|flac``: tones at mixed rates, lengths and channel counts."""
    import soundfile

    rng = np.random.default_rng(seed)
    for label, freq in TONES.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rate = int(rng.choice([8000, 16000, 22050, 44100]))
            seconds = float(rng.uniform(0.3, 1.2))
            channels = int(rng.choice([1, 2]))
            wave = tone(freq * rng.uniform(0.95, 1.05), seconds, rate, i, channels)
            suffix = ".flac" if i % 3 == 0 else ".wav"
            soundfile.write(str(root / label / f"{i}{suffix}"), wave, rate)
    return root


def save_tiny_whisper(path: Path) -> Path:
    """A local HF Whisper directory: 2 encoder layers, d_model 16, 16 mel bins."""
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=64,
        num_mel_bins=16,
        d_model=16,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_source_positions=100,
        max_target_positions=16,
        pad_token_id=1,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    WhisperModel(config).save_pretrained(path)
    WhisperFeatureExtractor(feature_size=16).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory) -> Path:
    return save_tiny_whisper(tmp_path_factory.mktemp("tiny_whisper"))


def audio_contract_case(model_dir: Path, root: Path, lm_dir: Path | None = None) -> tuple:
    """``(config, inputs, holdout)`` for tests/tasks/test_contract.py's CASES: a tiny
    random Whisper encoder on a folder of tone clips (WAV and FLAC, mixed rates)."""
    whisper = save_tiny_whisper(root / "tiny-whisper")
    train, holdout = write_tones(root / "tones", 6), write_tones(root / "holdout", 2, seed=1)
    config = run_config(whisper, train)
    del config["strategy"], config["train"]
    return config, [str(holdout / "low" / "0.flac")], str(holdout)


@pytest.fixture(scope="session")
def tiny_wav2vec2_dir(tmp_path_factory) -> Path:
    """A local HF Wav2Vec2 directory (raw-waveform input), 2 layers, hidden 16."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_wav2vec2")
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
    )
    Wav2Vec2Model(config).save_pretrained(path)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tone_folder(tmp_path_factory) -> Path:
    """Three tone classes, 12 clips each (mixed WAV/FLAC, rates, channels)."""
    return write_tones(tmp_path_factory.mktemp("tones"), 12)


def run_config(model_dir: Path, data: Path, **overrides) -> dict:
    """A small audio run: 0.5 s clips, tiny batches, no early stop."""
    cfg = {
        "task": "audio_classification",
        "model": {"name": str(model_dir)},
        "data": {
            "train": str(data),
            "clip_seconds": 0.5,
            "val_fraction": 0.25,
            "test_fraction": 0.25,
        },
        "strategy": {"name": "full"},
        "train": {
            "epochs": 1,
            "batch_size": 8,
            "lr": 1e-3,
            "head_lr": 1e-2,
            "early_stopping": {"enabled": False},
        },
    }
    for key, value in overrides.items():
        node = cfg
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return cfg
