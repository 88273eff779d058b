"""espeak-ng demo data: speaker-disjoint splits, seeded, written once."""

from __future__ import annotations

import pytest

from tunelab.tasks.audio.synth import (
    TEST_ACCENTS,
    TEST_VARIANTS,
    TRAIN_ACCENTS,
    TRAIN_VARIANTS,
    SynthSpec,
    espeak_binary,
    write_dataset,
)

pytestmark = pytest.mark.skipif(
    espeak_binary() is None, reason="espeak-ng is not installed (make espeak-ng, as root)"
)


def _speakers(root, split):
    return {p.stem.rsplit("-", 1)[0] for p in (root / split).rglob("*.wav")}


def test_test_speakers_share_no_accent_or_variant_with_training(tmp_path):
    assert not set(TRAIN_ACCENTS) & set(TEST_ACCENTS)
    assert not set(TRAIN_VARIANTS) & set(TEST_VARIANTS)
    spec = SynthSpec(words="commands", train_speakers=2, test_speakers=1, seed=3)
    root = write_dataset(tmp_path / "d", spec)
    assert sorted(p.name for p in (root / "train").iterdir()) == sorted(
        ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    )
    train, test = _speakers(root, "train"), _speakers(root, "test")
    assert len(train) == 2 and len(test) == 1
    for speaker in train:
        accent, variant = speaker.split("_", 1)
        assert accent in TRAIN_ACCENTS and variant in TRAIN_VARIANTS
    for speaker in test:
        accent, variant = speaker.split("_", 1)
        assert accent in TEST_ACCENTS and variant in TEST_VARIANTS
    assert sum(1 for _ in root.rglob("*.wav")) == 30


def test_the_same_spec_writes_the_same_files_and_is_not_rewritten(tmp_path):
    spec = SynthSpec(train_speakers=1, test_speakers=1, seed=5)
    first = write_dataset(tmp_path / "a", spec)
    second = write_dataset(tmp_path / "b", spec)
    files = sorted(p.relative_to(first) for p in first.rglob("*.wav"))
    assert files == sorted(p.relative_to(second) for p in second.rglob("*.wav"))
    assert (first / files[0]).read_bytes() == (second / files[0]).read_bytes()
    stamp = (first / files[0]).stat().st_mtime_ns
    write_dataset(tmp_path / "a", spec)  # already there: skipped
    assert (first / files[0]).stat().st_mtime_ns == stamp
