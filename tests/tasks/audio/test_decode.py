"""Decoding any rate / channel count / container into one clip, and bad files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile

from tests.tasks.audio.conftest import tone
from tunelab.errors import DataError
from tunelab.tasks.audio.decode import (
    ClipPolicy,
    DecodeReport,
    decode_entries,
    fit_clip,
    loudest_window,
    read_audio,
    resample,
)
from tunelab.tasks.audio.sources import AudioEntries


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg"])
def test_stereo_at_any_rate_becomes_mono_at_the_model_rate(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    soundfile.write(str(path), tone(440.0, 0.5, 44100, channels=2), 44100)
    mono, rate, channels = read_audio(path)
    assert (rate, channels, mono.ndim) == (44100, 2, 1)
    clip, cut = ClipPolicy(16000, 16000, "start").apply(mono, rate)
    assert clip.shape == (16000,) and not cut
    assert np.all(clip[8000 + 100 :] == 0)  # 0.5 s of tone, then zero padding
    spectrum = np.abs(np.fft.rfft(clip[:8000]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 440) <= 2  # the pitch survived


def test_resample_is_exact_in_length_and_a_no_op_at_the_same_rate():
    wave = np.ones(22050, np.float32)
    assert len(resample(wave, 22050, 16000)) == 16000
    assert resample(wave, 16000, 16000) is wave


def test_crop_policies():
    wave = np.zeros(100, np.float32)
    wave[70:80] = 1.0  # a burst late in the clip
    assert fit_clip(wave, 20, "start")[0].sum() == 0
    center, cut = fit_clip(wave, 20, "center")
    assert cut and center.sum() == 0  # the middle (40..60) misses the burst
    loud = fit_clip(wave, 20, "loudest")[0]
    assert loud.sum() == 10 and loudest_window(wave, 20) in range(60, 71)
    assert "loudest 1.00 s" in ClipPolicy(16000, 16000, "loudest").describe()


def test_a_bad_file_is_an_error_naming_it_or_skipped_and_counted(tmp_path):
    good, bad, empty = tmp_path / "good.wav", tmp_path / "bad.wav", tmp_path / "empty.wav"
    soundfile.write(str(good), tone(300.0, 0.2, 16000), 16000)
    bad.write_bytes(b"RIFF not really a wave file")
    soundfile.write(str(empty), np.zeros(0, np.float32), 16000)
    frame = pd.DataFrame({"path": [str(good), str(bad), str(empty)], "label": ["a"] * 3})
    entries = AudioEntries(frame, str(tmp_path))
    policy = ClipPolicy(16000, 4000, "start")
    with pytest.raises(DataError, match="bad.wav.*on_bad_audio: skip"):
        decode_entries(entries, policy, "error", "data.train", DecodeReport())
    report = DecodeReport()
    clips = decode_entries(entries, policy, "skip", "data.train", report)
    assert clips.names == [str(good)] and report.count == 2
    assert clips.waves.shape == (1, 4000) and clips.rates == [16000]
