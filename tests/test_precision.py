"""What precision a run asks for, what it gets, and what it says: fp16 on a CPU is refused
(accelerate would silently train in fp32), and the precision used is printed and recorded."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

import tunelab
from tests.conftest import classification_trainer, step_config, tiny_setup
from tunelab.acceleration import check_mixed_precision
from tunelab.errors import ConfigError
from tunelab.strategies import strategy_config


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_fp16_on_a_cpu_is_refused(device, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    with pytest.raises(ConfigError, match="mixed_precision=fp16 needs a GPU, but this run is on"):
        check_mixed_precision("fp16", device)
    for setting in ("no", "bf16", "auto"):
        check_mixed_precision(setting, device)


def test_fp16_run_on_cpu_is_refused_before_the_run_directory(tiny_config, tmp_path):
    tiny_config["train"]["mixed_precision"] = "fp16"
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("setting", "compute"), [("no", "fp32"), ("bf16", "bf16")])
def test_the_precision_used_is_printed_and_one_process_can_switch(tiny_model_dir, setting, compute):
    setup = tiny_setup(tiny_model_dir, strategy_config("full"), n_per_class=4)
    cfg = step_config(epochs=1, mixed_precision=setting)
    console = Console(record=True, width=300)
    trainer = classification_trainer(
        setup.model, setup.groups, setup.plans, cfg, setup.data, setup.labels
    )
    trainer.console = console
    trainer._print_precision()
    assert trainer.precision == {"compute": compute, "weights": "fp32", "requested": setting}
    how = "no autocast" if setting == "no" else "autocast"
    assert f"precision: {compute} on cpu ({how}, fp32 weights" in console.export_text()
    trainer.fit()


def test_metrics_json_records_the_precision(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    run = tunelab.fine_tune(tiny_config, tmp_path / "run").run_dir
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["precision"] == {"compute": "fp32", "weights": "fp32", "requested": "no"}
