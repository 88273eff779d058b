"""Strategy ``contrastive``: config keys, the task check, and a whole run on the tiny BERT
(the backbone trained on pairs, recorded; the head solved on its new features; an
ordinary model saved)."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import tunelab
from tests.conftest import make_texts
from tunelab.cli import app
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.strategies import strategy_config
from tunelab.tasks import get_task


def _config(tiny_model_dir, tmp_path, **strategy) -> dict:
    make_texts(10).to_csv(tmp_path / "train.csv", index=False)
    return {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(tmp_path / "train.csv"), "val_fraction": 0.2, "test_fraction": 0.2},
        "strategy": {"name": "contrastive", "body_lr": 1e-3, **strategy},
        "train": {"seed": 0, "device": "cpu"},
    }


def test_defaults_are_setfits():
    cfg = strategy_config("contrastive")
    assert (cfg.num_iterations, cfg.max_steps, cfg.pair_epochs) == (None, None, 1)
    assert (cfg.body_lr, cfg.pair_batch_size, cfg.warmup_ratio) == (2e-5, 16, 0.1)
    assert cfg.body_weight_decay == 0.01  # setfit's l2_weight
    assert cfg.head_solver == "auto" and cfg.head_c == 1.0  # LogisticRegression()


def test_the_pair_phase_gets_the_configured_settings():
    from tunelab.strategies.base import create_strategy

    cfg = strategy_config("contrastive", body_lr=3e-5, body_weight_decay=0.2, pair_epochs=2)
    settings = create_strategy(cfg).pair_training(seed=7)
    assert (settings.lr, settings.weight_decay, settings.epochs) == (3e-5, 0.2, 2)
    assert (settings.batch_size, settings.warmup_ratio, settings.seed) == (16, 0.1, 7)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"num_iterations": 0}, "num_iterations"),
        ({"body_lr": 0}, "body_lr"),
        ({"body_weight_decay": -0.1}, "body_weight_decay"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"pair_batch_size": 0}, "pair_batch_size"),
        ({"k": 2}, "k"),  # top_k's key: not read by contrastive
    ],
)
def test_bad_keys_are_refused_naming_the_key(settings, key):
    with pytest.raises(ConfigError, match=key):
        load_config(base={"strategy": {"name": "contrastive", **settings}})


def test_a_task_without_an_embedding_is_refused_in_one_line(tmp_path):
    cfg = load_config(base={"task": "image_classification", "strategy": {"name": "contrastive"}})
    with pytest.raises(ConfigError, match="no pooled embedding"):
        get_task("image_classification").embedding(cfg)


def test_multi_label_text_is_refused_before_anything_is_written(tiny_model_dir, tmp_path):
    config = _config(tiny_model_dir, tmp_path)
    config["data"]["problem_type"] = "multi_label"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(path), "--output", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "pairs texts by their one label" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output + result.stderr
    assert not (tmp_path / "run").exists()


def _backbone_change(run_dir, model_dir) -> float:
    """Largest absolute change of any backbone weight between the saved and the given."""
    from tunelab.tasks.text.model import load_backbone

    saved = tunelab.load(run_dir).model.backbone.state_dict()
    original = load_backbone(model_dir).state_dict()
    return max(float((saved[k] - original[k]).abs().max()) for k in original)


def test_run_trains_the_backbone_on_pairs_then_solves_the_head(tiny_model_dir, tmp_path):
    memory: dict = {}  # a feature_extraction run first: its cached features must not be reused
    # Both heads' penalties chosen on validation, so the scores compare the features: the
    # default C = 1 suits a sentence encoder's unit embeddings, not this random-init model's
    base = _config(tiny_model_dir, tmp_path, pair_epochs=3, head_c=None)
    fe = tunelab.fine_tune({**base, "strategy": {"name": "feature_extraction"}},
                           tmp_path / "fe", feature_memory=memory)  # fmt: skip
    result = tunelab.fine_tune(base, tmp_path / "run", feature_memory=memory)

    phase = result.metrics["strategy_phase"]
    train = json.loads((result.run_dir / "data_summary.json").read_text())["splits"]["train"]
    n = train["n"]
    assert phase["distinct_positive"] + phase["distinct_negative"] == n * (n + 1) // 2  # with self
    assert phase["positive_pairs"] == phase["negative_pairs"] == phase["distinct_negative"]
    assert phase["steps"] == 3 * -(-phase["pairs"] // 16)
    assert phase["loss_end"] < phase["loss_start"]
    assert result.metrics["train_seconds"] >= phase["seconds"]
    assert result.metrics["decisions"]["strategy.head_solver"]["value"] == "lbfgs"

    assert _backbone_change(result.run_dir, tiny_model_dir) > 1e-4
    assert _backbone_change(fe.run_dir, tiny_model_dir) == 0.0
    layers = json.loads((result.run_dir / "layers.json").read_text())["groups"]
    assert [g.get("trained_in") for g in layers] == ["contrastive"] * 3 + [None]
    assert all(g["state"] == "trained" for g in layers)
    total = result.metrics["total_params"]
    assert result.metrics["trainable_params"] == total  # the phase trained all but the head
    # on the random-init tiny BERT 3 epochs of pairs make the features separable (0.82 -> 1.0)
    assert result.metrics["validation"]["f1_macro"] > fe.metrics["validation"]["f1_macro"]
    predictions = tunelab.load(result.run_dir).predict(["pizza pasta", "laptop wifi"])
    assert {p.label for p in predictions} <= {"food", "sport", "tech"}


def test_the_head_is_setfits_on_unit_features_and_reloads_so(tiny_model_dir, tmp_path):
    """C = 1 (weight decay 1 / n) on L2-normalised features, both recorded; the saved
    model normalises too, so it predicts what the run scored."""
    result = tunelab.fine_tune(_config(tiny_model_dir, tmp_path, max_steps=2), tmp_path / "run")
    decisions = result.metrics["decisions"]
    n = json.loads((result.run_dir / "data_summary.json").read_text())["splits"]["train"]["n"]
    solver = decisions["strategy.head_solver"]
    assert [step["weight_decay"] for step in solver["path"]] == [pytest.approx(1 / n)]
    assert f"strategy.head_c=1 and n={n}" in solver["reason"]
    assert decisions["model.head.normalize"]["value"] is True
    assert yaml.safe_load((result.run_dir / "config.yaml").read_text())["model"]["head"][
        "normalize"
    ]
    # the model the run scored (its forward normalises) is the one solved on unit rows
    assert result.metrics["validation"]["f1_macro"] == pytest.approx(solver["path"][0]["f1_macro"])
    assert type(tunelab.load(result.run_dir).model.head.normalize).__name__ == "L2Normalize"


def test_head_c_null_chooses_the_penalty_on_validation_and_normalize_false_is_kept(
    tiny_model_dir, tmp_path
):
    config = _config(tiny_model_dir, tmp_path, max_steps=2, head_c=None)
    config["model"]["head"] = {"normalize": False}
    result = tunelab.fine_tune(config, tmp_path / "run")
    assert len(result.metrics["decisions"]["strategy.head_solver"]["path"]) == 15
    assert "model.head.normalize" not in result.metrics["decisions"]
    head = tunelab.load(result.run_dir).model.head
    assert type(head.normalize).__name__ == "Identity"


def test_the_run_is_seeded(tiny_model_dir, tmp_path):
    config = _config(tiny_model_dir, tmp_path, max_steps=3)
    first = tunelab.fine_tune(config, tmp_path / "a").metrics["strategy_phase"]
    second = tunelab.fine_tune(config, tmp_path / "b").metrics["strategy_phase"]
    assert first["steps"] == 3 and first["loss_curve"] == second["loss_curve"]


def test_layer_diagram_says_which_groups_the_pair_phase_trained():
    from tunelab.report.records import LayerGroup
    from tunelab.report.run_figures import _layer_detail

    group = LayerGroup("layer.0", 100, "trained", 1.0, 2e-5, None, trained_in="contrastive")
    assert _layer_detail(group) == "lr 2e-5 (×1) · trained in the contrastive phase, then frozen"


@pytest.mark.integration
def test_contrastive_on_minilm_few_steps(tmp_path):
    """The real MiniLM, 8 chatterbot utterances per topic, 3 pair steps: the path runs
    end to end and the backbone moved from the pretrained weights."""
    from tests.test_defaults_integration import chatterbot_topics
    from tunelab.models.registry import resolve_model_path

    paths = {}
    for name, frame in chatterbot_topics().items():
        paths[name] = str(tmp_path / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    config = {
        "model": {"max_length": 32},
        "data": {**paths, "train_per_class": 8},
        "strategy": {"name": "contrastive", "max_steps": 3},
        "train": {"device": "cpu", "seed": 0},
    }
    result = tunelab.fine_tune(config, tmp_path / "run")
    phase = result.metrics["strategy_phase"]
    assert (phase["steps"], phase["pairs"]) == (3, 48)  # 3 x 16 pairs: max_steps caps them
    assert _backbone_change(result.run_dir, resolve_model_path("all-MiniLM-L6-v2")) > 1e-6
    assert result.metrics["test"]["f1_macro"] > 0.5
