"""User text in console messages is printed as written: rich markup would swallow
``[v2]`` in a path or a label (issue 17 item 7)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from tests.conftest import make_texts
from tunelab.cli import app


def test_an_error_naming_a_bracketed_path_prints_it_whole(tiny_config, tmp_path):
    missing = tmp_path / "data[v2]" / "train[bold].csv"
    tiny_config["data"]["train"] = str(missing)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    result = CliRunner().invoke(app, ["run", str(config), "--output", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert str(missing) in result.stderr


def test_warnings_and_the_run_directory_keep_their_brackets(tiny_config, tmp_path):
    frame = make_texts(20)
    frame.loc[:4, "label"] = "[urgent]"  # a 5-row class: the small-class warning names it
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    tiny_config["data"]["train"] = str(data)
    tiny_config["train"]["epochs"] = 1
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config))
    out = tmp_path / "runs[v2]"
    result = CliRunner().invoke(app, ["run", str(config), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "[urgent]" in result.stdout
    assert f"run directory: {out}" in result.stdout
