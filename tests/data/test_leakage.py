"""``data.leakage``: dropping evaluation examples that duplicate train, unit and end to end
through the CLI (text on the tiny BERT, images on the tiny CNN)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_texts, write_scans
from tunelab.cli import app
from tunelab.data.checks import text_keys
from tunelab.data.leakage import drop_leaks, leakage_warnings, take_rows
from tunelab.errors import DataError


def _splits() -> dict[str, pd.DataFrame]:
    return {
        "train": pd.DataFrame({"text": ["Hello world", "foo", "bar"], "label": ["a", "b", "a"]}),
        "validation": pd.DataFrame({"text": ["hello   WORLD", "baz"], "label": ["a", "b"]}),
        "test": pd.DataFrame({"text": ["FOO", "bar", "new", "baz"], "label": list("bacb")}),
    }


def test_drop_removes_what_train_holds_and_counts_it():
    splits, record = drop_leaks(_splits(), "drop", text_keys, take_rows)
    assert record == {"mode": "drop", "dropped": {"validation": 1, "test": 2}}
    assert splits["validation"]["text"].tolist() == ["baz"]
    assert splits["test"]["text"].tolist() == ["new", "baz"]  # validation-test "baz" stays
    assert splits["train"].equals(_splits()["train"])


def test_warn_keeps_every_row():
    splits, record = drop_leaks(_splits(), "warn", text_keys, take_rows)
    assert record == {"mode": "warn", "dropped": {"validation": 0, "test": 0}}
    assert len(splits["test"]) == 4


def test_leakage_warnings_say_what_was_left():
    record = {"mode": "drop", "dropped": {"validation": 1, "test": 0}}
    assert leakage_warnings(record, {"validation": 1, "test": 4}, "texts") == [
        "data.leakage: drop removed 1 of 2 validation texts that also occur in train; "
        "validation scores use the other 1"
    ]


def test_a_split_made_only_of_train_examples_is_an_error():
    splits = _splits()
    splits["validation"] = splits["train"].copy()
    with pytest.raises(DataError, match="all 3 validation examples also occur in train"):
        drop_leaks(splits, "drop", text_keys, take_rows)


runner = CliRunner()


def _run(tmp_path, config: dict, *extra: str):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["run", str(path), "--output", str(tmp_path / "run"), *extra]
    return runner.invoke(app, args)


def test_leakage_drop_end_to_end_text(tiny_config, tmp_path):
    train = make_texts(12, seed=1)
    evaluation = make_texts(4, seed=2)
    leaked = train["text"].iloc[:3].str.upper()  # same text, other case: a duplicate
    validation = pd.concat(
        [evaluation, pd.DataFrame({"text": leaked, "label": train["label"].iloc[:3]})]
    )
    train.to_csv(tmp_path / "train.csv", index=False)
    validation.to_csv(tmp_path / "validation.csv", index=False)
    data = {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "validation.csv")}
    config = {**tiny_config, "data": {**data, "test_fraction": 0.2, "leakage": "drop"}}
    result = _run(tmp_path, config, "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    n_validation = len(validation.drop_duplicates("text"))
    assert (
        f"data.leakage: drop removed 3 of {n_validation} validation texts that also occur "
        f"in train; validation scores use the other {n_validation - 3}"
    ) in " ".join(result.output.split())
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["leakage"] == {"mode": "drop", "dropped": {"validation": 3, "test": 0}}
    assert summary["splits"]["validation"]["n"] == n_validation - 3
    assert summary["duplicates_across_splits"]["train-validation"] == 0
    assert any(w.startswith("data.leakage: drop removed 3") for w in summary["warnings"])
    report = runner.invoke(app, ["report", str(tmp_path / "run")])
    assert report.exit_code == 0, report.output
    html = (tmp_path / "run" / "report.html").read_text()
    assert "data.leakage: drop removed 3 of" in html  # the report's data warnings


def test_leakage_warn_is_the_default_and_keeps_rows(tiny_config, tmp_path):
    train = make_texts(12, seed=1)
    validation = pd.concat([make_texts(4, seed=2), train.iloc[:2]])
    train.to_csv(tmp_path / "train.csv", index=False)
    validation.to_csv(tmp_path / "validation.csv", index=False)
    data = {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "validation.csv")}
    result = _run(tmp_path, {**tiny_config, "data": data}, "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["leakage"]["mode"] == "warn"
    assert summary["duplicates_across_splits"]["train-validation"] == 2
    assert "set data.leakage: drop" in " ".join(result.output.split())


def test_leakage_drop_end_to_end_images(image_config, tmp_path):
    """A test folder of 4 fresh scans plus 2 copies of training files loses the copies."""
    train = write_scans(tmp_path / "train", per_class=10, seed=0)
    test = write_scans(tmp_path / "test", per_class=2, seed=1, sixteen_bit=0)
    shutil.copy(train / "lesion" / "005.png", test / "lesion" / "copy.png")
    shutil.copy(train / "normal" / "007.png", test / "normal" / "copy.png")
    data = {"train": str(train), "test": str(test), "val_fraction": 0.2, "leakage": "drop"}
    config = {**image_config, "data": data, "train": {**image_config["train"], "epochs": 1}}
    result = _run(tmp_path, config)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "data_summary.json").read_text())
    assert summary["leakage"] == {"mode": "drop", "dropped": {"validation": 0, "test": 2}}
    assert summary["splits"]["test"]["n"] == 4
    assert summary["warnings"][0] == (
        "data.leakage: drop removed 2 of 6 test images that also occur in train; test "
        "scores use the other 4"
    )


def test_leakage_drop_is_refused_for_multi_label_text(tiny_config, tmp_path):
    config = {**tiny_config, "data": {**tiny_config["data"], "problem_type": "multi_label"}}
    config["data"]["leakage"] = "drop"
    result = _run(tmp_path, config)
    assert result.exit_code == 2
    assert "data.leakage applies to single-label classes" in result.stderr
    assert "Traceback" not in result.output
