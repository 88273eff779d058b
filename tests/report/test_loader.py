"""Reading run and compare directories: required files, optional files, broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunelab.errors import RunDirError
from tunelab.report.loader import load_compare, load_run, load_source
from tunelab.report.records import CompareData, RunData

from .conftest import make_compare_dir, make_run_dir


def test_load_run_reads_every_file(run_dir: Path) -> None:
    run = load_run(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert run.strategy == "top_k"
    assert run.metrics.test["accuracy"] == metrics["test"]["accuracy"]
    assert run.metrics.latency_ms_p50 == 4.1 and "latency_ms_p50" not in run.metrics.test
    assert run.metrics.trainable_params == metrics["trainable_params"]
    assert list(run.metrics.test_details["per_class"]) == metrics["test"]["labels"]
    assert run.metrics.task == "text_classification"
    assert run.metrics.objective.monitored.label == "macro-F1"
    assert run.config is not None and run.config["strategy"]["k"] == 2
    assert run.history is not None and [r.epoch for r in run.history] == [1, 2, 3, 4]
    assert set(run.history[0].val) == {"loss", "accuracy", "f1_macro"}
    assert set(run.history[0].train) == {"loss", "accuracy"}
    assert run.layers is not None and run.layers.groups[0].name == "embeddings"
    assert [g.state for g in run.layers.groups].count("trained") == 3  # k=2 layers + head
    assert run.data is not None and run.data.split("train").n == 1204


def test_missing_optional_files_are_none(tmp_path: Path) -> None:
    omit = ("config.yaml", "history.jsonl", "layers.json", "data_summary.json")
    run = load_run(make_run_dir(tmp_path / "bare", "full", omit=omit))
    assert (run.config, run.history, run.layers, run.data) == (None, None, None, None)
    assert run.strategy == "full"  # still known from metrics.json


def test_truncated_history_line_is_ignored(run_dir: Path) -> None:
    with (run_dir / "history.jsonl").open("a") as handle:
        handle.write('{"epoch": 5, "step": 2')  # crash mid-write
    run = load_run(run_dir)
    assert run.history is not None and len(run.history) == 4


def test_load_source_detects_kind(run_dir: Path, compare_dir: Path) -> None:
    assert isinstance(load_source(run_dir), RunData)
    assert isinstance(load_source(compare_dir), CompareData)


def test_load_compare_groups_runs_by_strategy(compare_dir: Path) -> None:
    compare = load_compare(compare_dir)
    names = [s.strategy for s in compare.strategies]
    assert names == ["feature_extraction", "top_k", "full", "scratch"]
    assert all(len(compare.runs[name]) == 2 for name in names)
    assert compare.recommendation is not None and compare.recommendation.strategy == "top_k"
    assert compare.transfer_gain is not None and compare.transfer_gain.gain > 0.3
    assert {f.kind for f in compare.flags} == {"overfitting", "catastrophic_forgetting"}
    assert compare.data is not None and len(compare.data.labels) == 6
    scratch = compare.first_run("scratch")
    assert scratch is not None and scratch.metrics.pretrained is False


def test_compare_skips_run_dirs_that_are_missing(tmp_path: Path) -> None:
    root = make_compare_dir(tmp_path / "cmp", ("top_k", "full"))
    (root / "runs" / "full-seed0" / "metrics.json").unlink()  # still running
    compare = load_compare(root)
    assert compare.runs["full"] == []
    assert compare.first_run("full") is None
    assert len(compare.strategies) == 2  # the summary row is still shown


def test_directory_without_run_files_raises(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a run")
    with pytest.raises(RunDirError, match="neither metrics.json"):
        load_source(tmp_path)


def test_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not a directory"):
        load_source(tmp_path / "nope")


def test_invalid_json_raises_run_dir_error(run_dir: Path) -> None:
    (run_dir / "metrics.json").write_text("{not json")
    with pytest.raises(RunDirError, match="not valid JSON"):
        load_run(run_dir)
