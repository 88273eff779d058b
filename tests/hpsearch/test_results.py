"""What a search leaves (best.yaml, trials.csv, summary, report), and resuming it."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from typer.testing import CliRunner

from tunelab.cli import app
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.hpsearch import search

from .conftest import FAST_SPACE, load_study, search_config, write_config

runner = CliRunner()


def test_search_writes_best_yaml_trials_csv_and_resumes(tiny_config, tmp_path):
    config = write_config(tmp_path, search_config(tiny_config, pruner="none"))
    out = tmp_path / "search"
    result = runner.invoke(app, ["search", str(config), "--trials", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "best config:" in result.output and "baseline" in result.output

    best = load_config(out / "best.yaml")  # loads and validates: runnable by tunelab run
    summary = json.loads((out / "search_summary.json").read_text())
    assert best.search == load_config(None).search, "best.yaml carries no search section"
    assert summary["best"]["params"]["strategy.name"] == best.strategy.name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["baseline"] == "True" and rows[0]["params_strategy.name"] == "top_k"
    assert summary["baseline"]["number"] == 0 and summary["trials"]["complete"] == 3
    html = (out / "search_report.html").read_text()
    assert html.count("<img") == 3 and "Parameter importances" in html

    result = runner.invoke(app, ["search", str(config), "--trials", "5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "resuming with 3 trials done" in result.output
    assert [t.number for t in load_study(out).trials] == [0, 1, 2, 3, 4]
    assert len(list(csv.DictReader((out / "trials.csv").open()))) == 5

    changed = search_config(tiny_config, space={**FAST_SPACE, "train.epochs": {"int": [1, 2]}})
    with pytest.raises(ConfigError, match="different search .search.space differs"):
        search(changed, output_dir=out)


def test_best_yaml_holds_the_given_keys_so_a_rerun_resolves_as_the_trial_did(tmp_path):
    """Unset keys stay unset in best.yaml: written out at their plain defaults they
    would override what the trial's strategy set (contrastive's normalised head)."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    from tunelab.config import validate_config
    from tunelab.hpsearch.results import write_best_config
    from tunelab.hpsearch.space import parse_space
    from tunelab.strategies import with_model_defaults

    space = {"strategy.name": {"choice": ["feature_extraction", "contrastive"]}}
    base = validate_config({"train": {"lr": 1e-4}, "search": {"space": space}})
    choice = CategoricalDistribution(["feature_extraction", "contrastive"])
    best = optuna.trial.create_trial(
        params={"strategy.name": "contrastive"}, distributions={"strategy.name": choice}, value=0.5
    )
    study = optuna.create_study(direction="maximize", study_name="s")
    path = write_best_config(tmp_path / "best.yaml", study, base, parse_space(base), best)
    written = yaml.safe_load(path.read_text())
    assert written == {"train": {"lr": 1e-4}, "strategy": {"name": "contrastive"}}
    assert with_model_defaults(load_config(path)).model.head.normalize is True


def test_a_trial_drawing_contrastive_trains_it_as_a_run_naming_it_would(tiny_config, tmp_path):
    """End to end through ``search``: the trial's run records contrastive's preset head
    (normalised features), and best.yaml leaves it to the strategy."""
    space = {"strategy.name": {"choice": ["contrastive"]}}
    config = search_config(tiny_config, space=space, pruner="none", baseline=False)
    config["train"] = {**config["train"], "epochs": 1}
    search(config, trials=1, output_dir=tmp_path / "s", report=False)
    metrics = json.loads((tmp_path / "s" / "trials" / "trial-0" / "metrics.json").read_text())
    assert metrics["strategy"] == "contrastive"
    assert metrics["decisions"]["model.head.normalize"]["value"] is True
    assert "head" not in yaml.safe_load((tmp_path / "s" / "best.yaml").read_text())["model"]
