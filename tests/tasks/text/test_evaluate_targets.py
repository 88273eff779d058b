"""``tunelab evaluate`` of multi-label and regression text runs (the tiny BERT): the
scores of the run's own test table match what the run recorded, from the CLI and the
Python API; a label the run never saw is one line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import tunelab
from tests.conftest import make_texts
from tunelab.cli import app
from tunelab.errors import DataError
from tunelab.evaluation import evaluate_run

BALLS = {"football", "tennis", "goal", "match"}
SCORES = {"food": 10.0, "sport": 20.0, "tech": 40.0}


def _table(path, kind: str, seed: int):
    frame = make_texts(12, seed=seed)
    if kind == "multi_label":  # a list in JSONL: topic, and "ball" for ball games
        frame["label"] = [
            [row.label, *(["ball"] if BALLS & set(row.text.split()) else [])]
            for row in frame.itertuples()
        ]
        frame.to_json(path, orient="records", lines=True)
    else:
        frame["label"] = frame["label"].map(SCORES)
        frame.to_csv(path, index=False)
    return str(path)


def _run(tiny_config, tmp_path, kind: str):
    suffix = "jsonl" if kind == "multi_label" else "csv"
    tiny_config["data"].update(
        train=_table(tmp_path / f"train.{suffix}", kind, 0),
        test=_table(tmp_path / f"test.{suffix}", kind, 1),
        problem_type=kind,
    )
    tiny_config["strategy"] = {"name": "full"}
    tiny_config["train"]["epochs"] = 2
    return tunelab.fine_tune(tiny_config, tmp_path / "run"), tiny_config["data"]["test"]


def test_evaluate_a_multi_label_text_run_matches_its_tuned_test_scores(tiny_config, tmp_path):
    result, test = _run(tiny_config, tmp_path, "multi_label")
    scores = evaluate_run(result.run_dir, test)
    assert scores["n"] == 36
    assert scores["f1_micro"] == pytest.approx(result.metrics["test"]["f1_micro_tuned"])
    assert scores["subset_accuracy"] == pytest.approx(
        result.metrics["test"]["subset_accuracy_tuned"]
    )
    assert set(scores["per_label"]) == {"ball", "food", "sport", "tech"}
    cli = CliRunner().invoke(app, ["evaluate", str(result.run_dir), "--data", test, "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.stdout)["f1_macro"] == pytest.approx(scores["f1_macro"])
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\npizza and pasta,food|opera\n")
    with pytest.raises(DataError, match=r"label 'food\|opera' is not one of the training"):
        evaluate_run(result.run_dir, str(unseen))


def test_evaluate_a_regression_text_run_matches_its_test_scores(tiny_config, tmp_path):
    result, test = _run(tiny_config, tmp_path, "regression")
    scores = evaluate_run(result.run_dir, test)
    for key in ("r2", "mse", "mae", "spearman"):
        assert scores[key] == pytest.approx(result.metrics["test"][key], rel=1e-5)
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\npizza and pasta,high\n")
    cli = CliRunner().invoke(app, ["evaluate", str(result.run_dir), "--data", str(bad)])
    assert cli.exit_code == 2 and "Traceback" not in cli.output
    assert "row 1 is 'high', not a number" in " ".join(cli.stderr.split())
