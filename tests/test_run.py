"""End-to-end runs on the tiny model: run directory contents, reload, exact resume."""

from __future__ import annotations

import json

import pytest
import torch

import tunelab
from tests.conftest import make_texts
from tunelab.callbacks import Callback
from tunelab.errors import RunDirError


class _Interrupt(Callback):
    """Simulates a crash (Ctrl-C) at the start of a given epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_start(self, trainer, epoch: int) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_run_directory_is_complete_and_reloadable(tiny_config, tmp_path):
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    run = result.run_dir
    for name in (
        "config.yaml",
        "metrics.json",
        "history.jsonl",
        "layers.json",
        "data_summary.json",
        "status.json",
        "model/model.safetensors",
        "model/tunelab_model.json",
        "checkpoints/last",
        "checkpoints/best",
    ):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    for key in (
        "accuracy",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "latency_ms_p50",
        "latency_ms_p95",
        "per_class",
        "confusion_matrix",
    ):
        assert key in metrics["test"]
    assert metrics["trainable_params"] < metrics["total_params"]
    assert len(result.history) == 2 and result.history[-1]["epoch"] == 2
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    # the tiny keyword task is learnable: well above the 1/3 chance level
    assert metrics["test"]["accuracy"] > 0.6

    texts = ["pizza and pasta today", "the router and wifi", "a tennis match"]
    reloaded = tunelab.load(run)
    probs = reloaded.predict_proba(texts)
    assert torch.allclose(probs.sum(-1), torch.ones(3), atol=1e-5)
    assert [p.label for p in reloaded.predict(texts)] == [
        reloaded.labels[i] for i in probs.argmax(-1).tolist()
    ]


def test_interrupted_then_resumed_equals_uninterrupted(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 3
    full = tunelab.fine_tune(tiny_config, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        tunelab.fine_tune(tiny_config, tmp_path / "cut", callbacks=[_Interrupt(epoch=2)])
    resumed = tunelab.fine_tune(tiny_config, tmp_path / "cut", resume=True)
    assert [round(r["val_loss"], 6) for r in resumed.history] == [
        round(r["val_loss"], 6) for r in full.history
    ]
    for key in ("accuracy", "f1_macro", "loss"):
        assert resumed.metrics["test"][key] == pytest.approx(full.metrics["test"][key], abs=1e-6)


def test_gradual_unfreeze_resume_continues_schedule(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "gradual_unfreeze"}
    tiny_config["train"]["epochs"] = 3
    full = tunelab.fine_tune(tiny_config, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        tunelab.fine_tune(tiny_config, tmp_path / "cut", callbacks=[_Interrupt(epoch=2)])
    resumed = tunelab.fine_tune(tiny_config, tmp_path / "cut", resume=True)
    assert [r["phase"] for r in resumed.history] == [r["phase"] for r in full.history] == [0, 1, 2]
    assert resumed.metrics["test"]["loss"] == pytest.approx(full.metrics["test"]["loss"], abs=1e-6)


def test_existing_run_needs_resume_or_overwrite(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    tunelab.fine_tune(tiny_config, tmp_path / "run")
    with pytest.raises(RunDirError, match="holds another run"):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    tiny_config["train"]["lr"] = 5e-4
    with pytest.raises(RunDirError, match="train.lr differs"):
        tunelab.fine_tune(tiny_config, tmp_path / "run", resume=True)
    assert tunelab.fine_tune(tiny_config, tmp_path / "run", overwrite=True).metrics


def test_class_weights_and_lora_merge_run(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "lora", "lora": {"merge": True}}
    tiny_config["train"].update(epochs=1, class_weights="balanced")
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    card = json.loads((result.run_dir / "model" / "tunelab_model.json").read_text())
    assert card["format"] == "full"  # merged into the backbone
    assert tunelab.load(result.run_dir).predict("pizza")[0].label in {"food", "sport", "tech"}


def test_lora_adapter_and_head_reload_together(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "lora"}
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    model_dir = result.run_dir / "model"
    assert (model_dir / "adapter" / "adapter_config.json").is_file()
    texts = ["pizza and cheese", "wifi password"]
    first = tunelab.load(result.run_dir).predict_proba(texts)
    again = tunelab.load(result.run_dir).predict_proba(texts)
    assert torch.allclose(first, again)
    assert _reloaded_test_accuracy(result) == pytest.approx(result.metrics["test"]["accuracy"])


def _reloaded_test_accuracy(result) -> float:
    """Accuracy of the reloaded model on the run's own test split."""
    from tunelab.tasks.text.data import prepare_text_data

    test = prepare_text_data(result.config.data, seed=result.config.data.seed).test
    predictions = tunelab.load(result.run_dir).predict(test["text"].tolist())
    return sum(p.label == y for p, y in zip(predictions, test["label"], strict=True)) / len(test)


def test_reloaded_full_model_reproduces_test_accuracy(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    assert _reloaded_test_accuracy(result) == pytest.approx(result.metrics["test"]["accuracy"])


def test_continual_update_reports_old_test_accuracy(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 2
    first = tunelab.fine_tune(tiny_config, tmp_path / "first")
    new_data = tmp_path / "new.csv"
    frame = make_texts(30, seed=7)
    frame = frame[frame["label"] != "tech"]  # the update sees only two of the three topics
    frame = __import__("pandas").concat([frame, make_texts(4, seed=8)])
    frame.to_csv(new_data, index=False)
    tiny_config["data"]["train"] = str(new_data)
    tiny_config["model"]["init_from"] = str(first.run_dir)
    tiny_config["strategy"] = {"name": "full"}
    second = tunelab.fine_tune(tiny_config, tmp_path / "second")
    report = second.metrics["continual"]
    assert report["old_test_accuracy_before"] == first.metrics["test"]["accuracy"]
    assert 0.0 <= report["old_test_accuracy_after"] <= 1.0
    drop = report["old_test_accuracy_before"] - report["old_test_accuracy_after"]
    assert bool(report["flags"]) == (drop > 0.02)


def test_continual_update_must_keep_old_labels(tiny_config, tmp_path):
    from tunelab.errors import ConfigError

    tiny_config["train"]["epochs"] = 1
    first = tunelab.fine_tune(tiny_config, tmp_path / "first")
    new_data = tmp_path / "new.csv"
    frame = make_texts(20, seed=7)
    frame[frame["label"] != "tech"].to_csv(new_data, index=False)
    tiny_config["data"]["train"] = str(new_data)
    tiny_config["model"]["init_from"] = str(first.run_dir)
    with pytest.raises(ConfigError, match="label 'tech'"):
        tunelab.fine_tune(tiny_config, tmp_path / "second")
    assert not (tmp_path / "second").exists()


def test_a_run_that_fails_is_marked_failed_with_its_reason(tiny_config, tmp_path, monkeypatch):
    import json

    import tunelab
    from tunelab.trainer import Trainer

    def broken(self, resume=False):
        raise RuntimeError("boom in the first step")

    monkeypatch.setattr(Trainer, "fit", broken)
    with pytest.raises(RuntimeError):
        tunelab.fine_tune(tiny_config, tmp_path / "run")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert (
        status["state"] == "failed" and status["reason"] == "RuntimeError: boom in the first step"
    )


def test_sigterm_marks_a_cli_run_failed(tiny_config, tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    import yaml

    tiny_config["train"]["epochs"] = 200
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(tiny_config))
    command = [sys.executable, "-m", "tunelab.cli", "run", str(tmp_path / "c.yaml"), "-o"]
    proc = subprocess.Popen([*command, str(tmp_path / "run")], stderr=subprocess.PIPE)
    history = tmp_path / "run" / "history.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (history.is_file() and history.read_text()):
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status == {**status, "state": "failed", "reason": "interrupted"}


def test_trust_remote_code_opt_in_is_printed_and_recorded(tiny_config, tmp_path):
    import yaml
    from rich.console import Console

    import tunelab

    tiny_config["model"]["trust_remote_code"] = True
    tiny_config["train"]["max_steps"] = 1
    console = Console(record=True, width=300)
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=console)
    assert "model.trust_remote_code is on" in console.export_text()
    saved = yaml.safe_load((result.run_dir / "config.yaml").read_text())
    assert saved["model"]["trust_remote_code"] is True
