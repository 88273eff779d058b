"""Output directories that are not runs to protect: a file, and a run that stopped
before its first checkpoint (issue 17 items 3 and 6)."""

from __future__ import annotations

import json

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import tunelab
from tunelab.callbacks import Callback
from tunelab.cli import app


class _KillAtStart(Callback):
    def on_epoch_start(self, trainer, epoch: int) -> None:
        raise KeyboardInterrupt


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_killed_before_its_first_checkpoint_starts_over(tiny_config, tmp_path, resume):
    tiny_config["train"]["epochs"] = 1
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        tunelab.fine_tune(tiny_config, out, callbacks=[_KillAtStart()])
    assert json.loads((out / "status.json").read_text())["state"] == "failed"
    assert not (out / "checkpoints").exists()
    console = Console(record=True, width=300)
    result = tunelab.fine_tune(tiny_config, out, resume=resume, console=console)
    assert "its run stopped before a checkpoint; starting over" in console.export_text()
    assert json.loads((out / "status.json").read_text())["state"] == "finished"
    assert result.history[-1]["epoch"] == 1


def test_output_naming_an_existing_file_is_one_line_exit_2(tiny_config, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    taken = tmp_path / "results.txt"
    taken.write_text("keep me")
    result = CliRunner().invoke(app, ["run", str(config), "--output", str(taken)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: --output {taken} is a file, not a directory; choose another --output"
    )
    assert taken.read_text() == "keep me"


class _KillAtStep(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, step: int) -> None:
        if step == self.step:
            raise KeyboardInterrupt


def test_a_mid_epoch_resume_records_the_whole_epochs_training_numbers(tiny_config, tmp_path):
    tiny_config["train"].update(epochs=2, eval_every_steps=4)  # 9 batches an epoch
    full = tunelab.fine_tune(tiny_config, tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):  # the last checkpoint is step 4, mid-epoch 1
        tunelab.fine_tune(tiny_config, tmp_path / "cut", callbacks=[_KillAtStep(6)])
    resumed = tunelab.fine_tune(tiny_config, tmp_path / "cut", resume=True)
    assert [r["step"] for r in resumed.history] == [r["step"] for r in full.history]
    for key in ("train_loss", "train_accuracy", "val_loss"):
        assert [r[key] for r in resumed.history] == pytest.approx(
            [r[key] for r in full.history], abs=1e-6
        ), key
