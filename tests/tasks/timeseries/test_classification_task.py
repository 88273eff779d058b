"""timeseries_classification end to end on a tiny random-init PatchTST directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import tunelab
from tests.tasks.timeseries.conftest import CONTEXT, make_waves, write_ts, write_wide
from tunelab.errors import ConfigError, DataError, ModelError
from tunelab.evaluation import evaluate_run
from tunelab.layers import model_layer_groups
from tunelab.tasks import get_task
from tunelab.tasks.timeseries.backbone import backbone_path, load_backbone


@pytest.fixture(scope="module")
def wave_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("waves")
    series, labels = make_waves(24)
    series[0][0, 3] = np.nan  # a missing value
    series[2] = series[2][:, :30]  # a shorter series
    train = write_ts(root / "train.ts", series, labels)
    test = write_wide(root / "test.csv", *make_waves(10, seed=1))
    return train, test


def _config(model_dir, train, test, strategy="full", **train_cfg):
    return {
        "task": "timeseries_classification",
        "model": {"name": str(model_dir)},
        "data": {"train": str(train), "test": str(test), "val_fraction": 0.25},
        "strategy": {"name": strategy},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "seed": 0,
                  "baselines": [], **train_cfg},
    }  # fmt: skip


def test_run_save_reload_predict_evaluate(tiny_patchtst, wave_files, tmp_path):
    train, test = wave_files
    result = tunelab.fine_tune(_config(tiny_patchtst, train, test), tmp_path / "run")
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert {"accuracy", "f1_macro", "loss"} <= set(metrics["test"])
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["splits"]["train"]["missing_values"] == 1
    assert summary["series"]["resampled_to"] == CONTEXT
    assert any("unequal length" in w for w in summary["warnings"])
    predictor = tunelab.load(result.run_dir)
    first = predictor.predict(["0,1,0,-1,0,1,0,-1", np.sin(np.linspace(0, 6, 50))])
    again = tunelab.load(result.run_dir).predict(["0,1,0,-1,0,1,0,-1"])
    assert first[0].to_dict() == again[0].to_dict()
    assert sum(first[1].probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    scored = evaluate_run(result.run_dir, str(test))
    assert scored["n"] == 10 and scored["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_predict_records_keep_order_and_name_a_bad_series(tiny_patchtst, wave_files, tmp_path):
    train, test = wave_files
    run = tunelab.fine_tune(_config(tiny_patchtst, train, test), tmp_path / "run").run_dir
    task = get_task("timeseries_classification")
    records = task.read_inputs(run, ["1,2,3", "1,x,3"], test)
    out = tunelab.load(run).predict_records(records)
    assert len(out) == 2 + 10 and "label" in out[0] and "not a comma-separated" in out[1]["error"]
    assert out[2]["row"] == 1 and "label" in out[2]


@pytest.mark.parametrize(
    "strategy",
    ["feature_extraction", "top_k", "gradual_unfreeze", "discriminative_lr", "lora", "full"],
)
def test_every_strategy_runs_and_plans_its_groups(strategy, tiny_patchtst, wave_files, tmp_path):
    train, test = wave_files
    cfg = _config(tiny_patchtst, train, test, strategy, max_steps=2)
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    layers = json.loads((result.run_dir / "layers.json").read_text())
    names = [g["name"] for g in layers["groups"]]
    assert names == ["embeddings", "layer.0", "layer.1", "head"]
    states = {g["name"]: g["state"] for g in layers["groups"]}
    if strategy == "feature_extraction":
        assert states["layer.0"] == "frozen" and states["head"] == "trained"
    elif strategy == "full":
        assert set(states.values()) == {"trained"}
    assert result.metrics["steps"] >= 1


def test_pretrained_weights_are_loaded_and_scratch_draws_new_ones(tiny_patchtst):
    from safetensors.torch import load_file

    saved = load_file(str(tiny_patchtst / "model.safetensors"))
    loaded = load_backbone(tiny_patchtst, pretrained=True, channels=1).state_dict()
    key = next(k for k in saved if k.endswith("q_proj.weight"))
    assert torch.equal(loaded[key.removeprefix("model.")], saved[key])
    torch.manual_seed(123)
    fresh = load_backbone(tiny_patchtst, pretrained=False, channels=1).state_dict()
    assert not torch.equal(fresh[key.removeprefix("model.")], saved[key])


def test_a_patchtsmixer_directory_trains_too(tiny_mixer, wave_files, tmp_path):
    train, test = wave_files
    result = tunelab.fine_tune(_config(tiny_mixer, train, test, "top_k"), tmp_path / "run")
    assert result.metrics["test"]["accuracy"] >= 0.0
    groups = model_layer_groups(tunelab.load(result.run_dir).model)
    assert groups[0].name == "embeddings" and groups[-1].name == "head" and len(groups) >= 4


def test_multivariate_series_with_two_channels(tiny_patchtst, tmp_path):
    series, labels = make_waves(16)
    two = [np.vstack([s, -s]) for s in series]
    path = write_ts(tmp_path / "mv.ts", two, labels)
    cfg = _config(tiny_patchtst, path, path, "full")
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    predictor = tunelab.load(result.run_dir)
    assert predictor.channels == 2
    assert predictor.predict(["1,2,3:3,2,1"])[0].label in labels
    with pytest.raises(ValueError, match="the model reads 2"):
        predictor.predict(["1,2,3"])


def test_minirocket_row_is_recorded_when_sktime_is_installed(tiny_patchtst, wave_files, tmp_path):
    pytest.importorskip("sktime", reason="MiniRocket ships with sktime (make setup)")
    pytest.importorskip("numba", reason="sktime's MiniRocket needs numba")
    train, test = wave_files
    cfg = _config(tiny_patchtst, train, test, max_steps=1, baselines=["minirocket"])
    metrics = tunelab.fine_tune(cfg, tmp_path / "run").metrics
    row = metrics["baselines"]["minirocket"]
    assert 0.5 < row["test"]["accuracy"] <= 1.0 and row["fit_seconds"] > 0


def test_bad_inputs_are_one_line_errors(tiny_patchtst, wave_files, tmp_path):
    train, test = wave_files
    with pytest.raises(ModelError, match="not a model directory"):
        backbone_path(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ModelError, match="not a time-series backbone"):
        backbone_path(str(tmp_path))
    labelled = write_ts(tmp_path / "other.ts", *make_waves(4))
    text = labelled.read_text().replace(":slow", ":medium")
    labelled.write_text(text.replace("@classLabel true fast slow", "@classLabel true fast medium"))
    with pytest.raises(DataError, match="label 'medium' never occurs"):
        tunelab.fine_tune(_config(tiny_patchtst, train, labelled), tmp_path / "run")
    with pytest.raises(ConfigError, match="forecast"):
        tunelab.fine_tune({**_config(tiny_patchtst, train, test), "forecast": {}}, tmp_path / "r")
