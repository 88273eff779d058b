"""Augmentation: the SNR asked for, fixed clip length, seeded, SpecAugment masks."""

from __future__ import annotations

import numpy as np
import torch

from tests.tasks.audio.conftest import tone
from tunelab.tasks.audio.augment import (
    SpecAugment,
    WaveAugment,
    add_noise,
    augmentation_active,
    build_augmentation,
    change_speed,
    shift,
)
from tunelab.tasks.audio.config import AudioAugmentConfig


def test_noise_is_added_at_the_requested_snr():
    clean = tone(500.0, 1.0, 16000)
    noisy = add_noise(clean, 10.0, np.random.default_rng(0))
    noise = noisy - clean
    snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(snr - 10.0) < 0.01


def test_shift_and_speed_keep_the_clip_length():
    wave = np.arange(1, 11, dtype=np.float32)
    assert shift(wave, 3).tolist() == [0, 0, 0, *range(1, 8)]
    assert shift(wave, -2).tolist() == [*range(3, 11), 0, 0]
    clip = tone(400.0, 0.5, 16000)
    fast = change_speed(clip, 1.25, "start")
    assert fast.shape == clip.shape and np.all(fast[-1000:] == 0)  # 0.4 s left, padded
    peak = np.argmax(np.abs(np.fft.rfft(fast[:6000]))) * 16000 / 6000
    assert abs(peak - 500.0) < 5  # 1.25x faster: 400 Hz sounds at 500 Hz


def test_the_same_seed_gives_the_same_augmented_clips():
    cfg = AudioAugmentConfig(
        noise_snr_db=(5, 20), noise_prob=1.0, gain_db=6, shift_seconds=0.1, speed=(0.9, 1.1)
    )
    assert augmentation_active(cfg) and not augmentation_active(AudioAugmentConfig())
    clip = tone(300.0, 0.5, 16000)

    def run(seed):
        augment = WaveAugment(cfg, 16000, "start", np.random.default_rng(seed))
        return [augment(clip) for _ in range(3)]

    first, again, other = run(1), run(1), run(2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])  # each draw differs
    assert all(a.shape == clip.shape and np.abs(a).max() <= 1.0 for a in first)


def test_specaugment_masks_bands_to_the_floor_on_the_right_axes():
    cfg = AudioAugmentConfig(freq_masks=1, freq_mask_width=4, time_masks=1, time_mask_width=6)
    features = torch.rand(2, 16, 50) + 1.0  # Whisper layout: [batch, mel, frames]
    features[0, 0, 0] = -1.0
    masked = SpecAugment(cfg, 1, 2, np.random.default_rng(0))(features)
    assert masked.shape == features.shape and torch.equal(features[0, 0, 0], torch.tensor(-1.0))
    assert (masked == -1.0).sum() > 1  # masked cells read as the batch's floor
    full_rows = (masked[1] == -1.0).all(dim=1).sum() + (masked[1] == -1.0).all(dim=0).sum()
    assert full_rows >= 1  # a whole frequency band or time span
    wave, spec = build_augmentation(cfg, 16000, "start", "waveform", 0)
    assert wave is None and spec is None  # no spectrogram to mask for raw-sample models
