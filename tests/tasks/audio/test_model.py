"""Audio classifiers from local HF directories: groups, shortened Whisper, LoRA targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.errors import ModelError
from tunelab.layers import model_layer_groups
from tunelab.tasks.audio.config import AudioModelConfig
from tunelab.tasks.audio.model import build_audio_classifier, clip_policy, resolve_clip_policy


def test_whisper_is_cut_to_the_clip_and_grouped_without_its_fixed_positions(tiny_whisper_dir):
    cfg = AudioModelConfig(name=str(tiny_whisper_dir))
    model, frontend, source = build_audio_classifier(cfg, 3, 0.5, "start")
    encoder = model.backbone
    assert source == tiny_whisper_dir and frontend.layout == "freq_time"
    assert encoder.embed_positions.weight.shape == (25, 16)  # 0.5 s = 50 frames = 25 positions
    assert encoder.config.max_source_positions == 25
    groups = model_layer_groups(model)
    assert [g.name for g in groups] == ["embeddings", "layer.0", "layer.1", "final", "head"]
    grouped = {id(p) for g in groups for p in g.params}
    assert id(encoder.embed_positions.weight) not in grouped
    features = frontend([np.zeros(frontend.policy.clip_samples, np.float32)] * 3)
    assert features.shape == (3, 16, 50)
    assert model(input_features=features).shape == (3, 3)
    assert model.lora_target_modules() == ["q_proj", "v_proj"]
    assert resolve_clip_policy(cfg, 0.5, "start") == frontend.policy


def test_whisper_clip_lengths_round_up_to_whole_positions():
    assert clip_policy(16000, 0.51, "start", "freq_time").clip_samples == 8320  # 26 x 320
    assert clip_policy(16000, 0.51, "start", "waveform").clip_samples == 8160


def test_a_clip_longer_than_the_position_table_is_refused(tiny_whisper_dir):
    with pytest.raises(ModelError, match="clip_seconds.*100"):
        build_audio_classifier(AudioModelConfig(name=str(tiny_whisper_dir)), 2, 3.0, "start")


def test_a_raw_waveform_encoder_works_through_the_same_path(tiny_wav2vec2_dir):
    cfg = AudioModelConfig(name=str(tiny_wav2vec2_dir))
    model, frontend, _ = build_audio_classifier(cfg, 2, 0.25, "center")
    assert frontend.input_name == "input_values" and frontend.layout == "waveform"
    inputs = frontend([np.random.default_rng(0).standard_normal(4000).astype(np.float32)])
    assert inputs.shape == (1, 4000)
    assert model(input_values=inputs).shape == (1, 2)
    names = [g.name for g in model_layer_groups(model)]
    assert names[0] == "embeddings" and "layer.1" in names and names[-1] == "head"
    assert model.backbone.config.mask_time_prob == 0.0  # tunelab's augment replaces it


def test_scratch_is_random_and_names_no_source(tiny_whisper_dir):
    torch.manual_seed(1)  # the fixture's weights were drawn with seed 0
    cfg = AudioModelConfig(name=str(tiny_whisper_dir), pretrained=False)
    scratch, _, source = build_audio_classifier(cfg, 2, 0.5, "start")
    loaded = AudioModelConfig(name=str(tiny_whisper_dir))
    pretrained, _, _ = build_audio_classifier(loaded, 2, 0.5, "start")
    assert source is None
    weight = "backbone.layers.0.fc1.weight"
    assert not torch.equal(scratch.state_dict()[weight], pretrained.state_dict()[weight])
