"""``strategy.name: auto``: the rules (pure) and a run that probes, chooses and records."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import tunelab
from tunelab.auto_strategy import choose_strategy, data_stats


def _probe(value: float, monitor: str = "f1_macro", mode: str = "max") -> dict:
    return {"strategy": "feature_extraction", "monitor": monitor, "mode": mode, "value": value}


STATS = {"examples": 600, "classes": 3, "smallest_class": 54, "imbalance": 7.11}


@pytest.mark.parametrize(
    ("stats", "probe", "expected"),
    [
        (STATS, _probe(0.46), ("top_k", {"k": 2})),
        ({**STATS, "examples": 150}, _probe(0.46), ("feature_extraction", {})),
        ({**STATS, "smallest_class": 12}, _probe(0.46), ("feature_extraction", {})),
        (STATS, _probe(0.93), ("feature_extraction", {})),
        ({**STATS, "examples": 20000}, _probe(0.7), ("full", {})),
        # a metric where lower is better has no absolute "good enough": size decides
        ({"examples": 600}, _probe(0.05, "loss", "min"), ("top_k", {"k": 2})),
        ({"examples": 600}, None, ("top_k", {"k": 2})),  # a task without the probe
    ],
)
def test_the_rules(stats, probe, expected):
    name, settings, _ = choose_strategy(stats, probe)
    assert (name, settings) == expected


def test_the_reasons_name_what_was_seen():
    _, _, why = choose_strategy(STATS, _probe(0.4612))
    assert why == (
        "600 examples, 3 classes, smallest 54, imbalance 7.11x, probe val f1_macro 0.4612: "
        "top_k k=2 (<= 5000 examples: adapt the top 2 layers, keep the rest)"
    )


def test_data_stats_read_whatever_the_task_recorded():
    counts = {"a": 40, "b": 10, "c": 0}
    summary = {"splits": {"train": {"n": 50, "class_counts": counts}}}
    assert data_stats(summary) == {
        "examples": 50,
        "classes": 2,
        "smallest_class": 10,
        "imbalance": 4.0,
    }
    assert data_stats({"splits": {"train": {"n": 7}}}) == {"examples": 7}


def test_a_run_probes_chooses_and_records(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setattr("tunelab.auto_strategy.MIN_EXAMPLES", 1)
    monkeypatch.setattr("tunelab.auto_strategy.MIN_PER_CLASS", 1)
    monkeypatch.setattr("tunelab.auto_strategy.GOOD_ENOUGH", 1.01)  # tiny data is easy
    monkeypatch.setattr("tunelab.auto_strategy._worse", lambda metrics, probe: False)
    tiny_config["strategy"] = {"name": "auto"}
    tiny_config["train"]["epochs"] = 1
    out = io.StringIO()
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=Console(file=out, width=300))
    decision = result.metrics["decisions"]["strategy.name"]
    assert (decision["value"], decision["k"]) == ("top_k", 2)
    assert decision["probe"]["monitor"] == "f1_macro" and 0 <= decision["probe"]["value"] <= 1
    assert f"strategy.name: top_k ({decision['reason']})" in out.getvalue()
    assert result.metrics["strategy"] == "top_k"
    saved = json.loads((result.run_dir / "metrics.json").read_text())["decisions"]
    assert saved["strategy.name"] == decision
    assert tunelab.load(result.run_dir) is not None


def test_a_choice_worse_than_the_probe_on_validation_falls_back_to_it(
    tiny_config, tmp_path, monkeypatch
):
    from tunelab import auto_strategy

    monkeypatch.setattr("tunelab.auto_strategy.MIN_EXAMPLES", 1)
    monkeypatch.setattr("tunelab.auto_strategy.MIN_PER_CLASS", 1)
    monkeypatch.setattr("tunelab.auto_strategy.GOOD_ENOUGH", 1.01)
    worse = {"value": 0.9, "mode": "max", "monitor": "f1_macro"}
    assert auto_strategy._worse({"validation": {"f1_macro": 0.8}}, worse)
    assert not auto_strategy._worse(
        {"validation": {"loss": 0.8}}, {**worse, "mode": "min", "monitor": "loss"}
    )
    monkeypatch.setattr("tunelab.auto_strategy._worse", lambda metrics, probe: True)
    tiny_config["strategy"] = {"name": "auto"}
    tiny_config["train"]["epochs"] = 1
    result = tunelab.fine_tune(tiny_config, tmp_path / "run")
    decision = result.metrics["decisions"]["strategy.name"]
    assert (decision["value"], decision["chosen_first"]) == ("feature_extraction", "top_k")
    assert "< probe: kept feature_extraction" in decision["reason"]
    assert result.metrics["strategy"] == "feature_extraction"
    assert "strategy.head_solver" in result.metrics["decisions"]
