"""User text in console messages is printed as written: rich markup would swallow
``[v2]`` in a path or a label (issue 17 item 7)."""

from __future__ import annotations

import yaml
from rich.console import Console
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


def _printed(print_call) -> str:
    console = Console(record=True, width=200)
    print_call(console)
    return console.export_text()


def test_search_worker_errors_and_trial_values_keep_their_brackets() -> None:
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    from tunelab.hpsearch.loop import print_trial

    error = "FileNotFoundError: data[v2]/train[bold].csv"
    assert error in _printed(lambda c: print_trial(c, None, "val_f1", error=error))
    failed = create_trial(
        state=TrialState.FAIL,
        params={"data.train": "data[v2].csv"},
        distributions={"data.train": CategoricalDistribution(["data[v2].csv", "b.csv"])},
        user_attrs={"error": error},
    )
    text = _printed(lambda c: print_trial(c, failed, "val_f1"))
    assert f"failed: {error}" in text and "data.train=data[v2].csv" in text


def test_the_layer_table_keeps_bracketed_model_paths_and_group_names() -> None:
    from tunelab.config import validate_config
    from tunelab.layers import LayerGroup
    from tunelab.strategies.base import GroupPlan
    from tunelab.summary import print_groups

    cfg = validate_config({"model": {"name": "/models/bert[v2]"}, "data": {}})
    groups = [LayerGroup("blocks[0]"), LayerGroup("head")]
    text = _printed(
        lambda c: print_groups(c, groups, [GroupPlan("frozen"), GroupPlan("trained")], cfg)
    )
    assert "/models/bert[v2] · strategy" in text
    assert "blocks[0]" in text
