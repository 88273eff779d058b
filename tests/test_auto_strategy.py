"""``strategy.name: auto``: the rules (pure) and a run that probes, chooses and records."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from rich.console import Console

import tunelab
from tunelab.auto_strategy import ProbeHead, choose_strategy, data_stats
from tunelab.models.head import L2Normalize
from tunelab.objective import ScoredPass
from tunelab.tasks.classification import ClassificationObjective


def _probe(value: float, monitor: str = "f1_macro", mode: str = "max") -> dict:
    return {"strategy": "feature_extraction", "monitor": monitor, "mode": mode, "value": value}


STATS = {"examples": 600, "classes": 3, "smallest_class": 54, "imbalance": 7.11}


@pytest.mark.parametrize(
    ("stats", "probe", "expected"),
    [
        (STATS, _probe(0.46), ("full", {})),
        ({**STATS, "examples": 150}, _probe(0.46), ("feature_extraction", {})),
        ({**STATS, "smallest_class": 12}, _probe(0.46), ("feature_extraction", {})),
        (STATS, _probe(0.93), ("full", {})),  # a good probe with enough data: still full
        ({**STATS, "examples": 150}, _probe(0.93), ("feature_extraction", {})),
        ({**STATS, "examples": 20000}, _probe(0.7), ("full", {})),
        # a metric where lower is better has no absolute "good enough"
        ({"examples": 600}, _probe(0.05, "loss", "min"), ("full", {})),
        ({"examples": 600}, None, ("top_k", {"k": 2})),  # a task without the probe
    ],
)
def test_the_rules(stats, probe, expected):
    name, settings, _ = choose_strategy(stats, probe)
    assert (name, settings) == expected


FEW = {"examples": 40, "classes": 3, "smallest_class": 8, "largest_class": 16, "imbalance": 2.0}


@pytest.mark.parametrize(
    ("stats", "probe", "expected"),
    [
        (FEW, _probe(0.46), ("contrastive", {"max_steps": 500})),
        ({**STATS, "largest_class": 16, "smallest_class": 12}, _probe(0.46),
         ("contrastive", {"max_steps": 500})),
        ({**FEW, "largest_class": 17}, _probe(0.46), ("feature_extraction", {})),
        ({"examples": 150}, _probe(0.46), ("feature_extraction", {})),  # classes unknown
        (FEW, _probe(0.93), ("feature_extraction", {})),  # a probe at 0.9: no pair phase
        ({**STATS, "largest_class": 60}, _probe(0.46), ("full", {})),  # enough to fine-tune
    ],
)  # fmt: skip
def test_few_labels_get_the_pair_strategy_where_the_task_runs_it(stats, probe, expected):
    assert choose_strategy(stats, probe, few_labels=True)[:2] == expected
    if expected[0] == "contrastive":  # a task that cannot run it keeps the probe
        assert choose_strategy(stats, probe)[:2] == ("feature_extraction", {})


def test_the_reasons_name_what_was_seen():
    _, _, why = choose_strategy(STATS, _probe(0.4612))
    assert why == (
        "600 examples, 3 classes, smallest 54, imbalance 7.11x, probe val f1_macro 0.4612: "
        "full (enough examples to fine-tune every layer)"
    )


def test_data_stats_read_whatever_the_task_recorded():
    counts = {"a": 40, "b": 10, "c": 0}
    summary = {"splits": {"train": {"n": 50, "class_counts": counts}}}
    assert data_stats(summary) == {
        "examples": 50,
        "classes": 2,
        "smallest_class": 10,
        "largest_class": 40,
        "imbalance": 4.0,
    }
    assert data_stats({"splits": {"train": {"n": 7}}}) == {"examples": 7}


def test_a_run_probes_chooses_and_records(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr("tunelab.auto_strategy.MIN_EXAMPLES", 1)
    monkeypatch.setattr("tunelab.auto_strategy.MIN_PER_CLASS", 1)
    monkeypatch.setattr("tunelab.auto_strategy._below_probe", lambda *args: None)
    tiny_config["strategy"] = {"name": "auto"}
    tiny_config["train"]["epochs"] = 1
    out = io.StringIO()
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=Console(file=out, width=300))
    decision = result.metrics["decisions"]["strategy.name"]
    assert decision["value"] == "full" and decision["head_from_probe"]
    assert decision["probe"]["monitor"] == "f1_macro" and 0 <= decision["probe"]["value"] <= 1
    assert f"strategy.name: full ({decision['reason']})" in out.getvalue()
    assert result.metrics["strategy"] == "full"
    saved = json.loads((result.run_dir / "metrics.json").read_text())["decisions"]
    assert saved["strategy.name"] == decision
    assert tunelab.load(result.run_dir) is not None


def _chosen(score: float, monitor: str = "f1_macro", validation=None) -> SimpleNamespace:
    """A finished chosen run as :func:`auto_strategy._below_probe` reads it."""
    return SimpleNamespace(metrics={"validation": {monitor: score}}, validation=validation)


@pytest.mark.parametrize(
    ("score", "probe", "kept", "why"),
    [
        (0.8, _probe(0.9), "feature_extraction", "val 0.8000 < probe 0.9000 - 0.02"),
        (0.89, _probe(0.9), "full", "(within 0.02: noise)"),
        (0.91, _probe(0.9, "loss", "min"), "feature_extraction", "val 0.9100 > probe 0.9000"),
        (29.99, _probe(30.0, "bleu"), "feature_extraction", "val 29.9900 < probe 30.0000"),
    ],
)
def test_without_per_example_outputs_a_margin_decides(score, probe, kept, why):
    from tunelab.auto_strategy import _below_probe

    below = _below_probe("full", _chosen(score, probe["monitor"]), probe, None, seed=0)
    assert (below["kept"], below["test"]) == (kept, "margin") and why in below["why"]


@pytest.mark.parametrize("score", [0.9, 0.95])
def test_a_chosen_run_at_or_above_the_probe_is_kept_without_a_test(score):
    from tunelab.auto_strategy import _below_probe

    assert _below_probe("full", _chosen(score), _probe(0.9), None, seed=0) is None


def _passes(errors: int) -> tuple[ScoredPass, ScoredPass]:
    """The probe right on 100 examples, a chosen run wrong on ``errors`` of the rare class."""
    truth = np.array([0] * 60 + [1] * 30 + [2] * 10)
    chosen = truth.copy()
    chosen[90 : 90 + errors] = 0
    objective = ClassificationObjective(["a", "b", "c"])
    return tuple(
        ScoredPass(objective, {"predictions": predictions, "targets": truth})
        for predictions in (chosen, truth)
    )


@pytest.mark.parametrize(("errors", "kept"), [(1, "full"), (8, "feature_extraction")])
def test_with_per_example_outputs_a_paired_bootstrap_decides(errors, kept):
    from tunelab.auto_strategy import CONFIDENCE, _below_probe

    chosen, probe_pass = _passes(errors)
    score = chosen.monitor_on(np.arange(100))
    below = _below_probe("full", _chosen(score, validation=chosen), _probe(1.0), probe_pass, 0)
    assert below["kept"] == kept and below["test"] == "paired bootstrap"
    assert (below["share_below"] >= CONFIDENCE) is (kept == "feature_extraction")
    assert "paired resamples of the validation examples" in below["why"]
    assert ("noise" in below["why"]) is (kept == "full")


def test_a_choice_worse_than_the_probe_on_validation_falls_back_to_it(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setattr("tunelab.auto_strategy.MIN_EXAMPLES", 1)
    monkeypatch.setattr("tunelab.auto_strategy.MIN_PER_CLASS", 1)
    lost = {"kept": "feature_extraction", "why": "val 0.1 < probe 0.2, below it in 99%"}
    monkeypatch.setattr("tunelab.auto_strategy._below_probe", lambda *args: lost)
    tiny_config["strategy"] = {"name": "auto"}
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    decision = result.metrics["decisions"]["strategy.name"]
    assert (decision["value"], decision["chosen_first"]) == ("feature_extraction", "full")
    assert decision["reason"].endswith(
        "; full val 0.1 < probe 0.2, below it in 99%: kept feature_extraction"
    )
    assert decision["fallback"] == lost
    assert result.metrics["strategy"] == "feature_extraction"
    assert "strategy.head_solver" in result.metrics["decisions"]


def test_a_run_keeps_its_validation_pass_for_the_comparison(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    rows = np.arange(len(result.validation.outputs["targets"]))
    assert result.validation.monitor_on(rows) == result.metrics["validation"]["f1_macro"]


def test_a_task_without_the_probe_is_never_given_it():
    # size decides (no probe head to start from): top_k k=2 up to TOP_K_MAX_EXAMPLES
    assert choose_strategy({}, None)[:2] == ("top_k", {"k": 2})
    assert choose_strategy({**STATS, "examples": 150}, None)[:2] == ("top_k", {"k": 2})


def test_auto_is_the_default_strategy_of_every_task():
    from tunelab.config import load_config
    from tunelab.tasks import get_task, task_names

    assert load_config(None).strategy.name == "auto"
    assert all(get_task(name).supports("auto") for name in task_names())


class _Trainer:
    """What ProbeHead reads of a trainer: the step, and the model behind accelerate."""

    def __init__(self, model, step: int) -> None:
        self.model, self.state = model, SimpleNamespace(step=step)
        self.accelerator = SimpleNamespace(unwrap_model=lambda model: model)


@pytest.mark.parametrize(("step", "copied"), [(0, True), (5, False)])
def test_probe_head_is_copied_before_the_first_step_only(step, copied):
    model = torch.nn.Module()
    model.head = torch.nn.Linear(4, 3)
    solved = {key: torch.full_like(value, 0.5) for key, value in model.head.state_dict().items()}
    ProbeHead(solved).on_epoch_start(_Trainer(model, step), epoch=0)
    assert torch.equal(model.head.weight, solved["weight"]) is copied


def test_the_chosen_run_starts_from_the_probe_head(tiny_config, tmp_path, monkeypatch):
    probe_heads = []
    from_run = ProbeHead.from_run.__func__

    def keep(cls, run_dir):
        probe_heads.append(from_run(cls, run_dir))
        return probe_heads[-1]

    monkeypatch.setattr(ProbeHead, "from_run", classmethod(keep))
    monkeypatch.setattr("tunelab.auto_strategy.MIN_EXAMPLES", 1)
    monkeypatch.setattr("tunelab.auto_strategy.MIN_PER_CLASS", 1)
    monkeypatch.setattr("tunelab.auto_strategy._below_probe", lambda *args: None)
    tiny_config["strategy"] = {"name": "auto"}
    # a head that barely moves: what the run ends with is what it started from
    tiny_config["train"].update(epochs=1, head_lr=1e-12, weight_decay=0.0)
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    decision = result.metrics["decisions"]["strategy.name"]
    assert decision["head_from_probe"] and "the probe's solved head" in decision["reason"]
    trained = tunelab.load(result.run_dir).model.head.state_dict()
    for key, value in probe_heads[0].state.items():
        torch.testing.assert_close(trained[key], value)


def test_a_few_label_run_trains_on_pairs_and_solves_its_own_head(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setattr("tunelab.auto_strategy._below_probe", lambda *args: None)
    # the flow, not the bound: the tiny set has 24 per class
    monkeypatch.setattr("tunelab.auto_strategy.FEW_SHOT_MAX_PER_CLASS", 24)
    tiny_config["strategy"] = {"name": "auto"}  # 24 training texts per class
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    decision = result.metrics["decisions"]["strategy.name"]
    assert decision["value"] == "contrastive" and not decision["head_from_probe"]
    assert decision["max_steps"] == 500 and "SetFit" in decision["reason"]
    assert decision["data"]["largest_class"] <= 24
    assert 0 < result.metrics["strategy_phase"]["steps"] <= 500
    # as a run naming contrastive: setfit's head on normalised features (model_defaults)
    assert result.metrics["decisions"]["model.head.normalize"]["value"] is True
    assert isinstance(tunelab.load(result.run_dir).model.head.normalize, L2Normalize)


def test_a_task_that_cannot_pair_its_inputs_is_not_given_the_pair_strategy(image_config):
    from tunelab.auto_strategy import _runs
    from tunelab.config import load_config

    assert not _runs("contrastive", load_config(base=image_config))
    assert _runs("feature_extraction", load_config(base=image_config))


def test_a_good_probe_on_few_labels_says_why_it_skips_the_pairs():
    _, _, why = choose_strategy(FEW, _probe(0.93), few_labels=True)
    assert why.endswith(
        "feature_extraction (< 200 examples: too few to fine-tune layers; "
        "probe >= 0.9: not worth minutes of pair training)"
    )
