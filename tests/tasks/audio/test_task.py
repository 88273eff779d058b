"""Audio runs end to end on tone clips with a tiny random Whisper / Wav2Vec2."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.tasks.audio.conftest import run_config
from tunelab import fine_tune
from tunelab.config import load_config
from tunelab.inference import load
from tunelab.tasks import get_task


def _backbone(run_dir):
    state = load_file(str(run_dir / "model" / "model.safetensors"))
    return {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}


def _pretrained(model_dir):
    state = load_file(str(model_dir / "model.safetensors"))
    return {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}


def test_feature_extraction_learns_tones_and_the_saved_model_predicts_alike(
    tmp_path, tiny_whisper_dir, tone_folder
):
    cfg = run_config(tiny_whisper_dir, tone_folder, **{"strategy.name": "feature_extraction"})
    result = fine_tune(cfg, tmp_path / "run")
    assert result.metrics["test"]["accuracy"] >= 0.9  # 300 / 900 / 2500 Hz are easy
    assert result.metrics["test"]["misclassified"] == [] or result.metrics["test"]["accuracy"] < 1
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["clip_policy"]["clip_samples"] == 8000
    assert summary["splits"]["train"]["multichannel"] > 0
    assert set(summary["splits"]["train"]["sample_rates"]) > {16000}
    predictor = load(tmp_path / "run")
    files = sorted(str(p) for p in (tone_folder / "high").iterdir())[:4]
    assert [p.label for p in predictor.predict(files)] == ["high"] * 4
    records = predictor.predict_records([{"audio": files[0]}, {"audio": str(tmp_path / "x.wav")}])
    assert records[0]["label"] == "high" and "cannot read audio" in records[1]["error"]


def test_top_k_changes_only_the_top_groups(tmp_path, tiny_whisper_dir, tone_folder):
    cfg = run_config(tiny_whisper_dir, tone_folder, **{"strategy.name": "top_k", "strategy.k": 2})
    fine_tune(cfg, tmp_path / "run")
    after, before = _backbone(tmp_path / "run"), _pretrained(tiny_whisper_dir)
    assert torch.equal(after["layers.0.fc1.weight"], before["layers.0.fc1.weight"])
    assert torch.equal(after["conv1.weight"], before["conv1.weight"])
    assert not torch.equal(after["layers.1.fc1.weight"], before["layers.1.fc1.weight"])
    assert not torch.equal(after["layer_norm.weight"], before["layer_norm.weight"])
    assert torch.equal(after["embed_positions.weight"], before["embed_positions.weight"][:25])


def test_lora_is_saved_merged_into_q_and_v_only(tmp_path, tiny_whisper_dir, tone_folder):
    overrides = {"strategy.name": "lora", "train.lr": 1e-2}
    fine_tune(run_config(tiny_whisper_dir, tone_folder, **overrides), tmp_path / "run")
    after, before = _backbone(tmp_path / "run"), _pretrained(tiny_whisper_dir)
    assert not any("lora" in k for k in after)
    before.pop("embed_positions.weight")  # cut to the clip (see test_top_k...)
    changed = {k for k in before if not torch.equal(after[k], before[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
    card = json.loads((tmp_path / "run" / "model" / "tunelab_model.json").read_text())
    assert card["format"] == "full" and card["clip"]["layout"] == "freq_time"


def test_augmented_full_run_on_a_raw_waveform_encoder_and_evaluate(
    tmp_path, tiny_wav2vec2_dir, tone_folder
):
    augment = {"noise_snr_db": [10, 30], "gain_db": 3, "shift_seconds": 0.05, "speed": [0.9, 1.1]}
    cfg = run_config(tiny_wav2vec2_dir, tone_folder, **{"data.augment": augment})
    result = fine_tune(cfg, tmp_path / "run")
    assert result.metrics["strategy"] == "full" and result.metrics["epochs_run"] == 1
    task = get_task("audio_classification")
    metrics = task.evaluate_source(load(tmp_path / "run"), tmp_path / "run", str(tone_folder), {})
    assert metrics["n"] == 36 and 0.0 <= metrics["accuracy"] <= 1.0


def test_feature_cache_key_follows_clip_length_model_and_data(tiny_whisper_dir, tone_folder):
    task = get_task("audio_classification")

    def key(**overrides):
        cfg = load_config(base=run_config(tiny_whisper_dir, tone_folder, **overrides))
        splits = task.prepare_data(cfg)
        return task.feature_cache_key(cfg, task.build_model(cfg, splits), splits, "train")

    base = key()
    assert base == key()
    assert base != key(**{"data.clip_seconds": 0.6})
    assert base != key(**{"model.pretrained": False})
    assert base != key(**{"data.seed": 7})  # another split: other clips


def test_serve_inputs_and_onnx_export(tmp_path, tiny_whisper_dir, tone_folder):
    import soundfile

    from tunelab.onnx_export import export_onnx

    cfg = run_config(tiny_whisper_dir, tone_folder, **{"strategy.name": "feature_extraction"})
    fine_tune(cfg, tmp_path / "run")
    task = get_task("audio_classification")
    file = next((tone_folder / "low").iterdir())
    (samples, rate) = task.request_inputs(
        {"audio": [base64.b64encode(file.read_bytes()).decode()]}
    )[0]
    assert rate == soundfile.info(str(file)).samplerate and samples.ndim == 1
    with pytest.raises(ValueError, match="audio\\[0\\]: not a base64-encoded audio file"):
        task.request_inputs({"audio": [base64.b64encode(b"nope").decode()]})
    with pytest.raises(ValueError, match='send {"audio"'):
        task.request_inputs({"texts": ["x"]})
    assert load(tmp_path / "run").predict((samples, rate))[0].label == "low"
    exported = export_onnx(tmp_path / "run")
    assert exported.path.is_file() and exported.max_abs_diff < 1e-4
    assert exported.inputs == ["input_features"]


def test_read_inputs_keeps_blank_lines_as_errors(tmp_path):
    listing = tmp_path / "files.txt"
    listing.write_text("a.wav\n\nb.flac\n")
    records = get_task("audio_classification").read_inputs(tmp_path, ["c.ogg"], listing)
    assert [r.get("audio") for r in records] == ["c.ogg", "a.wav", "", "b.flac"]
    assert records[2]["error"] == "empty path" and np.all([r.get("line") for r in records[1:]])
