"""Audio decoding: every listed file once, mono, at the model's rate, one clip length.

Files are read with ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF),
any sample rate and channel count: channels are averaged (down-mix), the rate is changed
with ``scipy.signal.resample_poly`` (a polyphase filter; exact for rational ratios),
then the clip is cut or zero-padded to ``data.clip_seconds`` by a :class:`ClipPolicy`
that training, evaluation and prediction share. A file that cannot be decoded is an
error naming it, or with ``data.on_bad_audio: skip`` is skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.data.class_folders import DecodeReport
from tunelab.errors import DataError
from tunelab.tasks.audio.sources import AudioEntries

# What soundfile and numpy raise for a file that is not decodable audio.
UNREADABLE = (OSError, RuntimeError, ValueError, TypeError, EOFError)


@dataclass(frozen=True)
class ClipPolicy:
    """How any recording becomes one model input: rate, exact length, crop rule."""

    sample_rate: int
    clip_samples: int
    crop: str = "loudest"

    @property
    def seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (model card, data summary)."""
        return asdict(self)

    def describe(self) -> str:
        """The one line a run prints: what happens to long and short clips."""
        where = {"start": "the first", "center": "the middle", "loudest": "the loudest"}
        return (
            f"clips: mono, {self.sample_rate} Hz, {self.seconds:.2f} s each; longer ones "
            f"keep {where[self.crop]} {self.seconds:.2f} s, shorter ones are zero-padded "
            "at the end"
        )

    def apply(self, wave: np.ndarray, rate: int) -> tuple[np.ndarray, bool]:
        """A mono wave at ``rate`` as exactly one clip; also whether it was cut."""
        return fit_clip(resample(wave, rate, self.sample_rate), self.clip_samples, self.crop)


def read_audio(path: str | Path) -> tuple[np.ndarray, int, int]:
    """``(mono float32 samples, sample rate, channel count)`` of an audio file.

    Raises:
        OSError / RuntimeError (soundfile): missing, truncated or not an audio file;
        ValueError: the file holds no samples or non-finite ones.
    """
    try:
        import soundfile
    except ImportError:  # an optional extra; a user-fixable set-up problem, said once
        raise DataError("reading audio needs soundfile: pip install 'tunelab[audio]'") from None
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError("no samples")
    if not np.isfinite(data).all():
        raise ValueError("non-finite samples")
    return data.mean(axis=1), int(rate), int(data.shape[1])


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``wave`` at ``target`` Hz (polyphase; the ratio is reduced by its gcd)."""
    if rate == target:
        return wave.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    step = gcd(rate, target)
    return resample_poly(wave, target // step, rate // step).astype(np.float32)


def fit_clip(wave: np.ndarray, length: int, crop: str) -> tuple[np.ndarray, bool]:
    """Cut ``wave`` to ``length`` samples by ``crop``, or zero-pad its end."""
    if len(wave) <= length:
        return np.pad(wave, (0, length - len(wave))).astype(np.float32), False
    start = {"start": 0, "center": (len(wave) - length) // 2}.get(crop)
    if start is None:
        start = loudest_window(wave, length)
    return wave[start : start + length].astype(np.float32), True


def loudest_window(wave: np.ndarray, length: int) -> int:
    """Start of the ``length``-sample window with the most energy (cumulative sums)."""
    energy = np.concatenate([[0.0], np.cumsum(wave.astype(np.float64) ** 2)])
    totals = energy[length:] - energy[:-length]
    return int(np.argmax(totals))


@dataclass
class AudioSet:
    """Decoded clips of one split ``[N, clip_samples]`` with labels and file names."""

    waves: torch.Tensor
    labels: list[str]
    names: list[str]
    durations: list[float] = field(default_factory=list)
    rates: list[int] = field(default_factory=list)
    channels: list[int] = field(default_factory=list)
    cut: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: Sequence[int]) -> AudioSet:
        """The clips at ``rows``, in that order."""
        rows = list(rows)
        pick = lambda values: [values[i] for i in rows]  # noqa: E731
        return AudioSet(
            self.waves[torch.as_tensor(rows, dtype=torch.long)],
            pick(self.labels),
            pick(self.names),
            pick(self.durations),
            pick(self.rates),
            pick(self.channels),
            pick(self.cut),
        )

    def concat(self, other: AudioSet) -> AudioSet:
        """This set's clips, then ``other``'s (same clip length)."""
        return AudioSet(
            torch.cat([self.waves, other.waves]),
            self.labels + other.labels,
            self.names + other.names,
            self.durations + other.durations,
            self.rates + other.rates,
            self.channels + other.channels,
            self.cut + other.cut,
        )


def decode_entries(
    entries: AudioEntries, policy: ClipPolicy, on_bad: str, where: str, report: DecodeReport
) -> AudioSet:
    """Decode every listed file into one clip.

    Raises:
        DataError: an unreadable file with ``on_bad == "error"``, naming it; or no
            readable file at all.
    """
    waves, kept, info = [], [], []
    for row, path in enumerate(entries.frame["path"]):
        try:
            mono, rate, channels = read_audio(path)
            clip, cut = policy.apply(mono, rate)
        except UNREADABLE as err:
            report.unreadable(err, str(path), where, on_bad, "audio")
            continue
        waves.append(clip)
        kept.append(row)
        info.append((len(mono) / rate, rate, channels, cut))
    if not waves:
        raise DataError(f"{where} ({entries.origin}): no readable audio files")
    frame = entries.frame.iloc[kept]
    durations, rates, channels, cut = (list(column) for column in zip(*info, strict=True))
    return AudioSet(
        torch.from_numpy(np.stack(waves)),
        frame["label"].tolist(),
        frame["path"].tolist(),
        durations,
        rates,
        channels,
        cut,
    )
