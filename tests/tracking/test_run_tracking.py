"""One fine-tuning run logged to MLflow and TensorBoard, read back with their own readers."""

from __future__ import annotations

import json
import os
import sys

import pytest
from mlflow.tracking import MlflowClient

import tunelab
from tests.tracking.conftest import all_runs, mlflow_client, scalar_events
from tunelab.callbacks import Callback
from tunelab.errors import ConfigError
from tunelab.io import read_jsonl


def test_a_run_logs_params_metrics_per_evaluation_test_metrics_and_files(tiny_config, tmp_path):
    tiny_config["train"].update(report_to=["mlflow", "tensorboard"], log_model=True)
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    history = read_jsonl(result.run_dir / "history.jsonl")
    metrics = json.loads((result.run_dir / "metrics.json").read_text())

    client = mlflow_client(result.run_dir)
    (run,) = all_runs(client)
    assert (run.info.run_name, run.info.status) == ("run", "FINISHED")
    assert run.data.params["train.lr"] == "0.001"
    assert run.data.params["strategy.name"] == "top_k"
    assert run.data.params["train.report_to"] == '["mlflow", "tensorboard"]'
    val = client.get_metric_history(run.info.run_id, "val_f1_macro")
    assert [(m.step, m.value) for m in val] == [(r["step"], r["val_f1_macro"]) for r in history]
    loss = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.value for m in loss] == pytest.approx([r["train_loss"] for r in history])
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "metrics.json", "history.jsonl", "model"} <= files
    model_files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
    assert "model/tunelab_model.json" in model_files

    scalars = scalar_events(result.run_dir / "tensorboard")
    assert scalars["val/f1_macro"] == [
        (r["step"], pytest.approx(r["val_f1_macro"])) for r in history
    ]
    assert scalars["test/accuracy"][-1][1] == pytest.approx(metrics["test"]["accuracy"])
    assert len(scalars["train/loss"]) == len(history)


class _Interrupt(Callback):
    """Ctrl-C at the start of an epoch."""

    def on_epoch_start(self, trainer, epoch: int) -> None:
        if epoch == 1:
            raise KeyboardInterrupt


def test_an_interrupted_run_is_killed_and_resume_continues_it(
    tiny_config, tmp_path, store_in, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store_in(tmp_path / 'store')}")
    tiny_config["train"].update(epochs=3, report_to="mlflow")
    with pytest.raises(KeyboardInterrupt):
        tunelab.fine_tune(tiny_config, tmp_path / "run", callbacks=[_Interrupt()])
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (cut,) = all_runs(client)
    assert cut.info.status == "KILLED"

    result = tunelab.fine_tune(tiny_config, tmp_path / "run", resume=True)
    (run,) = all_runs(client)
    assert (run.info.run_id, run.info.status) == (cut.info.run_id, "FINISHED")
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_f1_macro")]
    assert steps == [r["step"] for r in result.history]  # each evaluation logged once
    losses = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in losses] == steps


def test_a_failed_run_is_marked_failed_with_its_reason(
    tiny_config, tmp_path, store_in, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store_in(tmp_path / 'store')}")
    tiny_config["train"]["report_to"] = ["mlflow", "tensorboard"]

    class Explode(Callback):
        def on_evaluate(self, trainer, metrics):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        tunelab.fine_tune(tiny_config, tmp_path / "run", callbacks=[Explode()])
    (run,) = all_runs(MlflowClient(os.environ["MLFLOW_TRACKING_URI"]))
    assert (run.info.status, run.data.tags["tunelab.error"]) == ("FAILED", "disk full")


def test_a_missing_library_is_a_config_error_before_anything_is_written(
    tiny_config, tmp_path, monkeypatch
):
    for name in [n for n in sys.modules if n.split(".")[0] == "mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)  # as Python does for a missing package
    monkeypatch.delitem(sys.modules, "tunelab.tracking.mlflow", raising=False)
    tiny_config["train"]["report_to"] = "mlflow"
    with pytest.raises(ConfigError, match=r"needs the 'mlflow' package.*tunelab\[tracking\]"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_report_to_all_means_every_installed_backend_and_none_nothing(monkeypatch):
    from tunelab.config import TrainConfig
    from tunelab.tracking import report_targets

    assert report_targets(TrainConfig()) == []  # the default: none
    assert report_targets(TrainConfig(report_to=["none", "mlflow", "mlflow"])) == ["mlflow"]
    assert report_targets(TrainConfig(report_to="all")) == ["mlflow", "tensorboard"]
    for name in [n for n in sys.modules if n.split(".")[0] == "mlflow"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "tunelab.tracking.mlflow", raising=False)
    assert report_targets(TrainConfig(report_to="all")) == ["tensorboard"]
