"""The ``model`` and ``data`` sections of an audio classification run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.config import _Section
from tunelab.tasks.classification import ClassificationDataConfig, ClassifierModelConfig

DEFAULT_AUDIO_MODEL = "whisper-tiny.en"


class AudioModelConfig(ClassifierModelConfig):
    """An audio encoder (the bundled Whisper tiny.en, a CTranslate2 Whisper folder, or a
    local HF Wav2Vec2 / HuBERT / AST / Whisper directory), mean-pooled over time, with a
    classification head."""

    name: str = DEFAULT_AUDIO_MODEL


class AudioAugmentConfig(_Section):
    """Training-time augmentation of waveforms and features; evaluation never augments.

    Every transform is off at its neutral value and draws from one generator seeded by
    ``train.seed``. Waveform transforms run in this order: speed, time shift, gain,
    noise; SpecAugment masks are applied to the model's spectrogram input (Whisper's
    log-mel, AST's filter bank; not to a raw-waveform model such as Wav2Vec2).
    """

    # Additive white noise at an SNR drawn uniformly from [low, high] dB; null = off.
    noise_snr_db: tuple[float, float] | None = None
    noise_prob: float = Field(0.5, ge=0.0, le=1.0)
    gain_db: float = Field(0.0, ge=0.0, le=40.0)  # uniform in [-gain_db, +gain_db]
    shift_seconds: float = Field(0.0, ge=0.0)  # circular-free shift, zeros fill the gap
    # Speed perturbation by resampling (tempo and pitch change together, as Kaldi's
    # 0.9/1.0/1.1 speed perturbation); a factor drawn uniformly from [low, high]; null = off.
    speed: tuple[float, float] | None = None
    freq_masks: int = Field(0, ge=0)  # SpecAugment: number of frequency masks
    freq_mask_width: int = Field(8, ge=1)  # at most this many mel bins each
    time_masks: int = Field(0, ge=0)  # SpecAugment: number of time masks
    time_mask_width: int = Field(10, ge=1)  # at most this many frames each


class AudioDataConfig(ClassificationDataConfig):
    """Folders of class sub-folders or path,label tables; clip length and its policy."""

    path_column: str = "path"  # a CSV/JSONL's path column (relative to the table's folder)
    on_bad_audio: Literal["error", "skip"] = "error"
    # Every clip becomes exactly this long: longer ones are cut (``crop``), shorter ones
    # zero-padded at the end. Short clips keep Whisper fast: its encoder runs on
    # clip_seconds instead of its native 30 s (see docs/audio.md).
    clip_seconds: float = Field(1.5, gt=0.0, le=30.0)
    # start: keep the first clip_seconds; center: the middle; loudest: the window with
    # the most energy (a word inside a longer recording).
    crop: Literal["start", "center", "loudest"] = "loudest"
    augment: AudioAugmentConfig = Field(default_factory=AudioAugmentConfig)
