"""What a search leaves (best.yaml, trials.csv, summary, report), and resuming it."""

from __future__ import annotations

import csv
import json

import pytest
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
