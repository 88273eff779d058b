"""``tunelab pretrain`` for time series: masked-patch reconstruction -> an HF directory
that both tasks load like any user checkpoint; plus the real backbone (integration)."""

from __future__ import annotations

import json

import pytest

import tunelab
from tunelab.config import load_config
from tunelab.tasks.timeseries.backbone import backbone_path, context_length

TINY = {
    "collections": ["statsmodels"],
    "context_length": 32,
    "patch_length": 8,
    "patch_stride": 8,
    "d_model": 16,
    "layers": 2,
    "heads": 2,
    "ffn_dim": 32,
    "epochs": 12,
    "lr": 0.003,
    "max_windows": 200,
    "batch_size": 32,
}


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    pytest.importorskip("statsmodels", reason="statsmodels ships the series")
    from tunelab.pretraining import pretrain

    cfg = load_config(base={"task": "forecasting", "pretrain": TINY})
    return pretrain(cfg, tmp_path_factory.mktemp("pre") / "backbone")


def test_pretraining_writes_a_loadable_hf_directory_and_its_loss_falls(pretrained_dir):
    record = json.loads((pretrained_dir / "pretraining.json").read_text())
    assert record["windows"] > 20 and set(record["windows_per_source"]) >= {"co2", "nile"}
    assert record["loss_per_epoch"][-1] < record["loss_per_epoch"][0]
    assert backbone_path(str(pretrained_dir)) == pretrained_dir
    assert context_length(pretrained_dir) == 32
    config = json.loads((pretrained_dir / "config.json").read_text())
    assert config["model_type"] == "patchtst"


def test_the_pretrained_backbone_serves_a_forecasting_run(pretrained_dir, tmp_path):
    from tests.tasks.timeseries.conftest import make_long

    make_long(96).to_csv(tmp_path / "m.csv", index=False)
    cfg = {
        "task": "forecasting",
        "model": {"name": str(pretrained_dir)},
        "data": {"train": str(tmp_path / "m.csv")},
        "forecast": {"horizon": 12, "baselines": ["seasonal_naive"]},
        "strategy": {"name": "top_k"},
        "train": {"max_steps": 2, "device": "cpu"},
    }
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    assert result.metrics["pretrained"] and "seasonal_naive_mase" in result.metrics["test"]


def test_a_nonempty_output_is_refused(tmp_path):
    from tunelab.errors import ConfigError
    from tunelab.pretraining import pretrain

    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("keep")
    cfg = load_config(base={"task": "timeseries_classification", "pretrain": TINY})
    with pytest.raises(ConfigError, match="not empty"):
        pretrain(cfg, tmp_path / "x")


@pytest.mark.integration
def test_the_default_backbone_on_gunpoint_beats_chance_in_a_few_steps(tmp_path):
    """The real cached backbone (pre-trained on first use), feature extraction on GunPoint."""
    pytest.importorskip("sktime", reason="GunPoint ships with sktime")
    cfg = {
        "task": "timeseries_classification",
        "data": {"train": "builtin:GunPoint_TRAIN", "test": "builtin:GunPoint_TEST",
                 "val_fraction": 0.2},
        "strategy": {"name": "feature_extraction"},
        "train": {"device": "cpu", "baselines": []},
    }  # fmt: skip
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    assert result.metrics["test"]["accuracy"] > 0.7  # 2 balanced classes: chance is 0.5
