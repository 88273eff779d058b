"""Seeded augmentation for small audio sets: speed, shift, gain, noise, SpecAugment.

One ``numpy.random.Generator`` seeded from ``train.seed`` drives every draw, so a run
with the same seed sees the same augmented clips in the same order. Waveform transforms
keep the clip length fixed (speed perturbation is cut or padded back with the clip
policy's crop rule); SpecAugment zeroes bands of the model's spectrogram input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tunelab.tasks.audio.config import AudioAugmentConfig
from tunelab.tasks.audio.decode import fit_clip, resample


def augmentation_active(aug: AudioAugmentConfig) -> bool:
    """Whether any augmentation is configured."""
    return bool(
        aug.noise_snr_db is not None
        or aug.gain_db
        or aug.shift_seconds
        or aug.speed is not None
        or aug.freq_masks
        or aug.time_masks
    )


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White noise scaled so signal power / noise power is ``snr_db`` decibels."""
    power = float(np.mean(wave.astype(np.float64) ** 2))
    if power == 0.0:
        return wave
    noise = rng.standard_normal(len(wave))
    noise *= np.sqrt(power / (10 ** (snr_db / 10)) / np.mean(noise**2))
    return (wave + noise).astype(np.float32)


def shift(wave: np.ndarray, samples: int) -> np.ndarray:
    """Delay (positive) or advance (negative) by ``samples``; zeros fill the gap."""
    out = np.zeros_like(wave)
    if samples >= 0:
        out[samples:] = wave[: len(wave) - samples]
    else:
        out[:samples] = wave[-samples:]
    return out


def change_speed(wave: np.ndarray, factor: float, crop: str) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch), back at the same clip length."""
    length = len(wave)
    scaled = resample(wave, int(round(1000 * factor)), 1000)  # fewer samples when faster
    return fit_clip(scaled, length, crop)[0]


@dataclass
class WaveAugment:
    """Per-clip waveform augmentation in a fixed order: speed, shift, gain, noise."""

    cfg: AudioAugmentConfig
    sample_rate: int
    crop: str
    rng: np.random.Generator

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        cfg, rng = self.cfg, self.rng
        if cfg.speed is not None:
            wave = change_speed(wave, float(rng.uniform(*cfg.speed)), self.crop)
        if cfg.shift_seconds:
            limit = int(cfg.shift_seconds * self.sample_rate)
            wave = shift(wave, int(rng.integers(-limit, limit + 1)))
        if cfg.gain_db:
            wave = wave * np.float32(10 ** (rng.uniform(-cfg.gain_db, cfg.gain_db) / 20))
        if cfg.noise_snr_db is not None and rng.random() < cfg.noise_prob:
            wave = add_noise(wave, float(rng.uniform(*cfg.noise_snr_db)), rng)
        return np.clip(wave, -1.0, 1.0).astype(np.float32)


@dataclass
class SpecAugment:
    """Zero ``freq_masks`` frequency bands and ``time_masks`` time spans per example.

    ``freq_axis`` / ``time_axis`` index a batch of spectrograms (Whisper: ``[B, mel,
    frames]``, so 1 and 2; AST: ``[B, frames, mel]``, so 2 and 1). Masks are set to the
    batch's minimum, the log-mel floor, which reads as silence.
    """

    cfg: AudioAugmentConfig
    freq_axis: int
    time_axis: int
    rng: np.random.Generator

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        out = features.clone()
        floor = float(out.min())
        for i in range(out.shape[0]):
            example = out[i]
            for axis, count, width in (
                (self.freq_axis - 1, self.cfg.freq_masks, self.cfg.freq_mask_width),
                (self.time_axis - 1, self.cfg.time_masks, self.cfg.time_mask_width),
            ):
                for _ in range(count):
                    size = int(self.rng.integers(0, width + 1))
                    start = int(self.rng.integers(0, max(example.shape[axis] - size, 0) + 1))
                    example.narrow(axis, start, size).fill_(floor)
        return out


def build_augmentation(
    cfg: AudioAugmentConfig, sample_rate: int, crop: str, layout: str, seed: int
) -> tuple[WaveAugment | None, SpecAugment | None]:
    """The waveform and spectrogram augmenters (None when off), sharing one generator.

    ``layout``: ``freq_time`` / ``time_freq`` for spectrogram inputs, ``waveform`` for
    models that read raw samples (SpecAugment then does not apply).
    """
    rng = np.random.default_rng(seed)
    wave_on = cfg.noise_snr_db is not None or cfg.gain_db or cfg.shift_seconds or cfg.speed
    wave = WaveAugment(cfg, sample_rate, crop, rng) if wave_on else None
    spec = None
    if (cfg.freq_masks or cfg.time_masks) and layout != "waveform":
        axes = (1, 2) if layout == "freq_time" else (2, 1)
        spec = SpecAugment(cfg, *axes, rng)
    return wave, spec
