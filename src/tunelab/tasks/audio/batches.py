"""Batches of clips for the trainer: waveforms in memory, features computed per batch.

Clips are decoded once into one float tensor ``[N, clip_samples]`` (1.5 s at 16 kHz is
96 kB a clip). A batch becomes the model's input when it is collated: waveform
augmentation first (training only), then the model's own feature extractor, then
SpecAugment on the spectrogram (training only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from tunelab.batching import FixedSizeBatching
from tunelab.tasks.audio.augment import SpecAugment, WaveAugment
from tunelab.tasks.audio.model import AudioFrontend


@dataclass
class AudioBatches(FixedSizeBatching):
    """Clips with label ids; builds model-input batches.

    Attributes:
        waves: decoded clips, ``[N, clip_samples]`` float32.
        labels: label ids, ``[N]``.
        frontend: the model's feature extractor behind the clip policy.
        wave_augment / spec_augment: training-time augmentation, or None.
    """

    waves: torch.Tensor
    labels: torch.Tensor
    frontend: AudioFrontend
    wave_augment: WaveAugment | None = None
    spec_augment: SpecAugment | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """The model input (named as the model reads it) and ``labels``."""
        idx = torch.as_tensor(list(indices))
        clips = [wave.numpy() for wave in self.waves[idx]]
        if self.wave_augment is not None:
            clips = [self.wave_augment(clip) for clip in clips]
        features = self.frontend(clips)
        if self.spec_augment is not None:
            features = self.spec_augment(features)
        return {self.frontend.input_name: features, "labels": self.labels[idx]}

    def without_augmentation(self) -> AudioBatches:
        """The same clips, features only (evaluation, cached features)."""
        return replace(self, wave_augment=None, spec_augment=None)
