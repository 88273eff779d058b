"""The generic seams a new task plugs into without touching the core: task-owned
top-level config sections, named input fields for ``tunelab predict``, and
self-supervised pre-training behind ``tunelab pretrain``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict
from typer.testing import CliRunner

from tunelab.cli import app
from tunelab.config import validate_config
from tunelab.errors import ConfigError
from tunelab.inference import field_options
from tunelab.pretraining import pretrain
from tunelab.tasks import base
from tunelab.tasks.text.task import TextTask


class ForecastSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    horizon: int = 12


class ToyTask(TextTask):
    """The text task plus one extra section, two input fields and a pre-training."""

    name = "toy_fields"
    input_fields = ("question", "context")

    def sections(self) -> base.TaskSections:
        own = super().sections()
        return base.TaskSections(own.model, own.data, own.train, {"forecast": ForecastSection})

    def pretrain(self, cfg, output_dir: Path, console) -> Path:
        (output_dir / "config.json").write_text(f'{{"horizon": {cfg.forecast.horizon}}}')
        return output_dir


@pytest.fixture()
def toy(monkeypatch):
    task = ToyTask()
    monkeypatch.setitem(base._TASKS, task.name, task)
    return task


def test_a_task_owned_section_is_validated_and_refused_elsewhere(toy):
    cfg = validate_config({"task": "toy_fields", "forecast": {"horizon": 24}})
    assert cfg.forecast.horizon == 24 and cfg.to_dict()["forecast"] == {"horizon": 24}
    with pytest.raises(ConfigError, match="forecast.horizn"):
        validate_config({"task": "toy_fields", "forecast": {"horizn": 24}})
    with pytest.raises(ConfigError, match="read by task .*toy_fields"):
        validate_config({"forecast": {"horizon": 24}})


def test_field_options_split_plain_arguments_from_named_fields(toy):
    words = ["plain", "--question", "who?", "--context=Ann met Bob."]
    assert field_options(toy, words) == (
        ["plain"],
        {"question": "who?", "context": "Ann met Bob."},
    )
    with pytest.raises(ConfigError, match="unknown option --answer.*--question, --context"):
        field_options(toy, ["--answer", "x"])
    with pytest.raises(ConfigError, match="--context needs a value"):
        field_options(toy, ["--context"])


def test_a_task_without_fields_refuses_options():
    from tunelab.tasks import get_task

    with pytest.raises(ConfigError, match="input fields: none"):
        field_options(get_task("text_classification"), ["--question", "q"])


def test_pretrain_writes_the_backbone_atomically(toy, tmp_path):
    cfg = validate_config({"task": "toy_fields", "forecast": {"horizon": 6}})
    out = pretrain(cfg, tmp_path / "backbone")
    assert (out / "config.json").read_text() == '{"horizon": 6}'
    with pytest.raises(ConfigError, match="not empty; pass --overwrite"):
        pretrain(cfg, out)
    assert pretrain(cfg, out, overwrite=True) == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backbone"]  # no temp dirs left


def test_pretrain_command_on_a_task_without_pretraining_is_one_line(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("task: text_classification\n")
    result = CliRunner().invoke(app, ["pretrain", str(config), "--output", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "has no self-supervised pre-training" in result.output
    assert not (tmp_path / "b").exists()
