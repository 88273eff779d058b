"""Self-training on ``data.unlabeled`` with the tiny text model: rounds, agreement, the
kept round, the record in metrics.json and the report, and bad pools as one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import tunelab
from tests.conftest import make_texts
from tunelab.cli import app
from tunelab.errors import DataError

ROUNDS = 2


@pytest.fixture
def self_training_config(tiny_model_dir, tmp_path) -> dict:
    """6 labelled texts per class, 10 / 5 per class for validation / test, a pool of 120
    texts with their labels (which only check the pseudo-labels). The head trains with
    AdamW for a few epochs: on two busy cores that is faster than L-BFGS's 15 solves."""
    paths = {}
    for name, (per_class, seed) in {
        "train": (6, 0), "validation": (10, 3), "test": (5, 4), "unlabeled": (40, 5)
    }.items():  # fmt: skip
        paths[name] = str(tmp_path / f"{name}.csv")
        make_texts(per_class, seed=seed).to_csv(paths[name], index=False)
    return {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": paths,
        "strategy": {"name": "feature_extraction", "head_solver": "adamw", "head_epochs": 4},
        "train": {"seed": 0, "device": "cpu", "head_lr": 1e-2},
        "self_training": {"rounds": ROUNDS, "min_confidence": 0.0},
    }


def test_rounds_are_recorded_and_the_best_validated_round_is_the_run(
    self_training_config, tmp_path
):
    result = tunelab.fine_tune(self_training_config, tmp_path / "run")
    record = result.metrics["self_training"]
    rounds = record["rounds"]
    assert [r["round"] for r in rounds] == list(range(ROUNDS + 1))
    assert record["pool"] + record["left_out_overlap"] == 120 and record["labels_in_source"]
    assert rounds[0]["pseudo_labels"] == 0 and rounds[0]["accepted"] == 0
    for before, after in zip(rounds, rounds[1:], strict=False):
        assert after["pseudo_labels"] == before["pseudo_labels"] + after["accepted"]
        assert sum(after["accepted_per_class"].values()) == after["accepted"]
        assert after["checked"] == after["accepted"] and 0.0 <= after["agreement"] <= 1.0
    scores = [r["val_f1_macro"] for r in rounds]
    assert record["best_round"] == scores.index(max(scores))
    best = rounds[record["best_round"]]
    # the run retrains the kept round, seeded as it was: the same model
    assert result.metrics["validation"]["f1_macro"] == pytest.approx(best["val_f1_macro"])
    assert record["pseudo_labels"] == best["pseudo_labels"]
    summary = json.loads((result.run_dir / "data_summary.json").read_text())
    assert summary["self_training"]["rounds"] == rounds


def test_agreement_is_measured_on_the_pool_rows_whose_label_is_known(
    self_training_config, tmp_path
):
    """Every known label is wrong (a class the model cannot predict): agreement is 0
    over exactly the accepted rows that have a label."""
    pool = make_texts(20, seed=8)
    pool["label"] = ["unknown-class" if i % 2 else None for i in range(len(pool))]
    path = tmp_path / "pool.jsonl"
    pool.to_json(path, orient="records", lines=True)
    cfg = json.loads(json.dumps(self_training_config))
    cfg["data"]["unlabeled"] = str(path)
    cfg["self_training"] = {"rounds": 1, "min_confidence": 0.0, "per_class_share": 1.0}
    record = tunelab.fine_tune(cfg, tmp_path / "run").metrics["self_training"]
    added = record["rounds"][1]
    assert added["accepted"] == record["pool"] > 50  # share 1.0, no floor: the whole pool
    assert 0 < added["checked"] < added["accepted"] and added["agreement"] == 0.0


def test_a_pool_without_labels_is_checked_on_validation_only(self_training_config, tmp_path):
    lines = tmp_path / "pool.txt"
    lines.write_text("\n".join(make_texts(10, seed=7)["text"]) + "\n\n")
    cfg = json.loads(json.dumps(self_training_config))
    cfg["data"]["unlabeled"] = str(lines)
    cfg["self_training"]["rounds"] = 1
    record = tunelab.fine_tune(cfg, tmp_path / "run").metrics["self_training"]
    assert not record["labels_in_source"]
    assert record["rounds"][1]["agreement"] is None and record["rounds"][1]["checked"] == 0
    assert "val_f1_macro" in record["rounds"][1]


def test_the_report_shows_one_row_per_round(self_training_config, tmp_path):
    from tunelab.report.render import write_report

    result = tunelab.fine_tune(self_training_config, tmp_path / "run")
    html = write_report(result.run_dir).read_text()
    assert "Self-training" in html and html.count("(kept)") == 1
    assert html.count("<tr><td>") >= ROUNDS + 1


def test_pool_inputs_already_labelled_are_left_out(self_training_config, tmp_path):
    from tunelab.config import load_config
    from tunelab.self_training import read_pool
    from tunelab.tasks import get_task

    train = pd.read_csv(self_training_config["data"]["train"])
    pool = pd.concat([train, make_texts(5, seed=9)], ignore_index=True)
    path = tmp_path / "pool.csv"
    pool.to_csv(path, index=False)
    cfg = load_config(base={**self_training_config, "data": {
        **self_training_config["data"], "unlabeled": str(path)}})  # fmt: skip
    task = get_task(cfg.task)
    read = read_pool(task, cfg, task.prepare_data(cfg))
    assert read.left_out >= len(train)
    kept = set(read.examples["text"])
    assert not kept & set(train["text"])

    train.to_csv(path, index=False)  # nothing new in it
    with pytest.raises(DataError, match="also occur in the labelled"):
        read_pool(task, cfg, task.prepare_data(cfg))


# ------------------------------------------------------------- bad input: exit 2
def _cli_run(tmp_path, config: dict):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return CliRunner().invoke(app, ["run", str(path), "--output", str(tmp_path / "out")])


def _assert_one_line(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = " ".join(result.stderr.split())
    assert message.startswith("error:") and "Traceback" not in result.output, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    "content, fragments",
    [
        (None, ["data.unlabeled", "not found"]),
        (b"", ["data.unlabeled"]),
        (b"\xff\xfe\x00garbage\x00\xff", ["data.unlabeled", "UTF-8"]),
        (b"words,other\nsome,thing\n", ["data.unlabeled", "no column 'text'"]),
        (b"text,label\n  ,food\n,\n", ["data.unlabeled", "no texts"]),
    ],
    ids=["missing", "empty", "binary", "no-text-column", "only-blank-texts"],
)
def test_an_unusable_unlabeled_file_is_one_line_exit_2(
    self_training_config, tmp_path, content, fragments
):
    path = tmp_path / "pool_bad.csv"
    if content is not None:
        path.write_bytes(content)
    config = {
        **self_training_config,
        "data": {**self_training_config["data"], "unlabeled": str(path)},
    }
    result = _cli_run(tmp_path, config)
    _assert_one_line(result, *fragments)
    assert not (tmp_path / "out").exists()


def test_an_empty_text_file_pool_is_one_line_exit_2(self_training_config, tmp_path):
    path = tmp_path / "pool.txt"
    path.write_text("\n \n")
    config = {
        **self_training_config,
        "data": {**self_training_config["data"], "unlabeled": str(path)},
    }
    _assert_one_line(_cli_run(tmp_path, config), "data.unlabeled", "no texts")


def test_self_training_settings_without_a_pool_are_refused(self_training_config, tmp_path):
    data = {k: v for k, v in self_training_config["data"].items() if k != "unlabeled"}
    result = _cli_run(tmp_path, {**self_training_config, "data": data})
    _assert_one_line(result, "self_training is set but data.unlabeled is not")


def test_a_task_that_cannot_self_train_refuses_the_key(tmp_path):
    config = {"task": "causal_lm", "data": {"train": "x.jsonl", "unlabeled": "pool.txt"}}
    _assert_one_line(_cli_run(tmp_path, config), "unknown key 'data.unlabeled'")
