"""Multi-label and regression image runs on the tiny random-init CNN: data, every
strategy through compare and the report, predict / evaluate / serve from the CLI and
the Python API, and the one-line errors."""

from __future__ import annotations

import base64
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import tunelab
from tests.conftest import TINY_CNN
from tunelab.cli import app
from tunelab.errors import ConfigError, DataError
from tunelab.evaluation import evaluate_run

SHAPES = ("bar", "disc", "ring")


def _picture(shapes: set[str], radius: float, rng: np.random.Generator) -> np.ndarray:
    """40x40 grey: a disc of ``radius`` at the left, a ring at the right, a bar at the
    bottom, each where asked, plus noise."""
    yy, xx = np.mgrid[:40, :40]
    image = np.full((40, 40), 40.0)
    if "disc" in shapes:
        image[np.hypot(yy - 14, xx - 11) < radius] = 210
    if "ring" in shapes:
        r = np.hypot(yy - 14, xx - 29)
        image[(r > 5) & (r < 8)] = 210
    if "bar" in shapes:
        image[31:36, 4:36] = 210
    return np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)


def write_shapes(root, n: int, kind: str, seed: int = 0, name: str = "images") -> str:
    """``n`` PNGs and a table of path and target: for multi-label a CSV of separated
    strings ("disc|ring") and a JSONL of lists alternately by ``name``; for regression
    the disc's radius (3-12)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        shapes = {s for s in SHAPES if rng.random() < 0.5} or {SHAPES[i % 3]}
        radius = float(rng.uniform(3, 12))
        if kind == "regression":
            shapes, label = {"disc"}, round(radius, 2)
        else:
            label = sorted(shapes)
        Image.fromarray(_picture(shapes, radius, rng), mode="L").save(folder / f"{i:03d}.png")
        rows.append({"path": f"{name}/{i:03d}.png", "label": label})
    frame = pd.DataFrame(rows)
    if kind == "multi_label" and name.endswith("jsonl"):
        path = root / f"{name}.jsonl"
        frame.to_json(path, orient="records", lines=True)
        return str(path)
    if kind == "multi_label":
        frame["label"] = frame["label"].map("|".join)
    path = root / f"{name}.csv"
    frame.to_csv(path, index=False)
    return str(path)


def _config(table: str, kind: str, test: str | None = None, **strategy) -> dict:
    return {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {
            "train": table,
            "test": test,
            "problem_type": kind,
            "label_separator": "|",
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "augment": {"hflip": 0.0},
        },
        "strategy": {"name": "full", **strategy},
        "train": {"epochs": 3, "batch_size": 16, "lr": 3e-3, "head_lr": 3e-3, "seed": 0},
    }


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    tables = {
        "multi_label": write_shapes(root, 60, "multi_label", name="ml_train"),
        "multi_label_test": write_shapes(root, 20, "multi_label", seed=1, name="ml_test_jsonl"),
        "regression": write_shapes(root, 60, "regression", name="reg_train"),
        "regression_test": write_shapes(root, 20, "regression", seed=1, name="reg_test"),
    }
    return root, tables


@pytest.fixture(scope="module")
def base_weights(tmp_path_factory) -> str:
    """The tiny CNN's random init in a local file: the "pretrained" weights compare and
    LoRA start from."""
    import timm
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("weights") / "base.safetensors"
    save_file(timm.create_model(TINY_CNN).state_dict(), str(path))
    return str(path)


@pytest.fixture(scope="module")
def multi_label_run(shapes_dir):
    root, tables = shapes_dir
    config = _config(tables["multi_label"], "multi_label", tables["multi_label_test"])
    return tunelab.fine_tune(config, root / "ml_run")


@pytest.fixture(scope="module")
def regression_run(shapes_dir):
    root, tables = shapes_dir
    config = _config(tables["regression"], "regression", tables["regression_test"])
    return tunelab.fine_tune(config, root / "reg_run")


# ------------------------------------------------------------------------------ data
def test_label_lists_and_separated_strings_read_alike(shapes_dir):
    from tunelab.config import load_config
    from tunelab.tasks import get_task

    _, tables = shapes_dir
    cfg = load_config(base=_config(tables["multi_label"], "multi_label"))
    splits = get_task(cfg.task).prepare_data(cfg)
    assert splits.labels == list(SHAPES)
    assert [len(s) for s in (splits.train, splits.validation, splits.test)] == [36, 12, 12]
    counts = splits.summary["targets"]["label_counts"]
    assert sum(counts["train"].values()) == sum(
        len(labels.split("|")) for labels in splits.train.labels
    )
    assert "class_counts" not in splits.summary["splits"]["train"]
    jsonl = load_config(base=_config(tables["multi_label_test"], "multi_label"))
    from_lists = get_task(cfg.task).prepare_data(jsonl)  # lists in a JSONL column
    assert all(set(v.split("|")) <= set(SHAPES) for v in from_lists.train.labels)


def test_regression_targets_are_floats_with_statistics(shapes_dir):
    from tunelab.config import load_config
    from tunelab.tasks import get_task

    _, tables = shapes_dir
    cfg = load_config(base=_config(tables["regression"], "regression"))
    splits = get_task(cfg.task).prepare_data(cfg)
    assert splits.labels == ["label"]
    values = np.array(splits.train.labels)
    assert values.dtype == float and values.min() >= 3 and values.max() <= 12
    stats = splits.summary["targets"]["target"]["train"]
    assert stats["mean"] == pytest.approx(values.mean())


def test_bad_targets_and_class_only_settings_are_one_line(shapes_dir, tmp_path):
    _, tables = shapes_dir
    words = tmp_path / "words.csv"
    frame = pd.read_csv(tables["regression"])
    frame["path"] = [str(shapes_dir[0] / p) for p in frame["path"]]
    frame["label"] = frame["label"].astype(object)
    frame.loc[4, "label"] = "big"
    frame.to_csv(words, index=False)
    with pytest.raises(DataError, match=r"column 'label' row 5 is 'big', not a number"):
        tunelab.fine_tune(_config(str(words), "regression"), tmp_path / "a")
    unseen = tmp_path / "unseen.csv"
    pd.DataFrame({"path": frame["path"][:3], "label": ["disc|star"] * 3}).to_csv(unseen)
    with pytest.raises(DataError, match="label 'star' is not one of the training labels"):
        tunelab.fine_tune(
            _config(tables["multi_label"], "multi_label", str(unseen)), tmp_path / "b"
        )
    mixed = _config(tables["multi_label"], "multi_label")
    mixed["data"]["augment"]["mixup"] = 0.2
    with pytest.raises(ConfigError, match=r"^data.augment.mixup applies to single-label"):
        tunelab.fine_tune(mixed, tmp_path / "c")
    assert not any((tmp_path / name).exists() for name in "abc")


# ---------------------------------------------------------------------------- runs
def test_a_multi_label_image_run_predicts_label_sets_with_tuned_thresholds(
    multi_label_run, shapes_dir
):
    root, tables = shapes_dir
    metrics = multi_label_run.metrics
    assert multi_label_run.config.train.early_stopping.metric == "f1_micro"
    assert {"f1_micro", "f1_macro", "subset_accuracy", "f1_micro_tuned"} <= set(metrics["test"])
    card = json.loads((multi_label_run.run_dir / "model" / "tunelab_model.json").read_text())
    assert card["problem_type"] == "multi_label" and card["thresholds"] == metrics["thresholds"]
    predictor = tunelab.load(multi_label_run.run_dir)
    paths = [str(root / "ml_test_jsonl" / f"{i:03d}.png") for i in range(3)]
    for prediction in predictor.predict(paths):
        assert set(prediction.probabilities) == set(SHAPES)
        on = [s for s, p in prediction.probabilities.items() if p >= card["thresholds"][s]]
        assert prediction.labels == on
    # evaluate on the run's own test table scores it exactly as the run did after tuning
    scores = evaluate_run(multi_label_run.run_dir, tables["multi_label_test"])
    assert scores["n"] == 20
    assert scores["f1_micro"] == pytest.approx(metrics["test"]["f1_micro_tuned"])
    assert scores["f1_macro"] == pytest.approx(metrics["test"]["f1_macro_tuned"])
    assert set(scores["per_label"]) == set(SHAPES)


def test_a_regression_image_run_predicts_values(regression_run, shapes_dir):
    root, tables = shapes_dir
    metrics = regression_run.metrics
    assert regression_run.config.train.early_stopping.metric == "r2"
    assert {"r2", "mse", "mae", "spearman"} <= set(metrics["test"])
    history = regression_run.history
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # the head learns the radius
    predictor = tunelab.load(regression_run.run_dir)
    values = predictor.predict([str(root / "reg_test" / "000.png")])
    assert isinstance(values[0].value, float)
    scores = evaluate_run(regression_run.run_dir, tables["regression_test"])
    for key in ("r2", "mse", "mae", "spearman"):
        assert scores[key] == pytest.approx(metrics["test"][key], rel=1e-5)


def test_every_strategy_compares_on_multi_label_images(shapes_dir, base_weights, tmp_path):
    from tunelab.comparison import all_strategies, compare

    _, tables = shapes_dir
    config = _config(tables["multi_label"], "multi_label")
    config["model"].update(pretrained=True, weights=base_weights)
    config["train"]["epochs"] = 1
    strategies = [s for s in all_strategies("image_classification") if s != "base"]
    result = compare(config, strategies=strategies, output_dir=tmp_path / "cmp")
    assert [row["strategy"] for row in result.summary["strategies"]] == strategies
    for strategy in strategies:
        run = json.loads((result.run_dirs[strategy][0] / "metrics.json").read_text())
        assert 0.0 <= run["test"]["f1_micro_tuned"] <= 1.0
        assert set(run["thresholds"]) == set(SHAPES)
    report = result.report.read_text()
    assert report.count("micro-F1") >= 2, "the report names the multi-label metrics"


def test_auto_and_layers_strategies_on_regression_images(shapes_dir, tmp_path):
    _, tables = shapes_dir
    layers = _config(tables["regression"], "regression", name="layers", train=["head"])
    layers["train"]["epochs"] = 1
    result = tunelab.fine_tune(layers, tmp_path / "layers")
    assert result.metrics["trainable_params"] < result.metrics["total_params"]
    auto = _config(tables["regression"], "regression", name="auto")
    auto["train"]["epochs"] = 1
    chosen = tunelab.fine_tune(auto, tmp_path / "auto")
    assert chosen.metrics["decisions"]["strategy.name"]["value"]
    assert np.isfinite(chosen.metrics["test"]["mse"])


# ------------------------------------------------------------------------ CLI, serve
def test_cli_predict_and_evaluate_a_multi_label_run(multi_label_run, shapes_dir):
    root, tables = shapes_dir
    runner = CliRunner()
    image = str(root / "ml_test_jsonl" / "000.png")
    predicted = runner.invoke(app, ["predict", str(multi_label_run.run_dir), image])
    assert predicted.exit_code == 0, predicted.output
    record = json.loads(predicted.stdout.splitlines()[0])
    assert record["image"] == image and set(record["probabilities"]) == set(SHAPES)
    assert isinstance(record["labels"], list)
    args = ["evaluate", str(multi_label_run.run_dir), "--data", tables["multi_label_test"]]
    scored = runner.invoke(app, [*args, "--json"])
    assert scored.exit_code == 0, scored.output
    expected = multi_label_run.metrics["test"]["f1_micro_tuned"]
    assert json.loads(scored.stdout)["f1_micro"] == pytest.approx(expected)
    table = runner.invoke(app, args)
    assert table.exit_code == 0 and "f1_micro" in table.stdout


def test_cli_evaluate_refuses_a_label_the_run_never_saw(multi_label_run, shapes_dir, tmp_path):
    root, _ = shapes_dir
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"path": [str(root / "ml_train" / "000.png")], "label": ["star"]}).to_csv(bad)
    result = CliRunner().invoke(app, ["evaluate", str(multi_label_run.run_dir), "--data", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "label 'star' is not one of the training labels" in " ".join(result.stderr.split())


def test_serve_returns_values_like_the_python_api(regression_run, shapes_dir):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tunelab.serve import create_app

    root, _ = shapes_dir
    paths = [root / "reg_test" / f"{i:03d}.png" for i in range(3)]
    client = TestClient(create_app(regression_run.run_dir))
    images = [base64.b64encode(p.read_bytes()).decode("ascii") for p in paths]
    response = client.post("/predict", json={"images": images})
    assert response.status_code == 200, response.text
    expected = tunelab.load(regression_run.run_dir).predict([str(p) for p in paths])
    assert [r["value"] for r in response.json()] == pytest.approx([v.value for v in expected])
