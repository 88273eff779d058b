"""``train.lr: auto`` (the range test and its pick) and ``train.epochs: auto``.

The pick is a pure function of (rates, losses), so most tests script loss curves.
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import torch
from rich.console import Console

import tunelab
from tunelab.config import load_config
from tunelab.errors import ConfigError
from tunelab.lr_finder import MIN_DROP, range_lrs, run_range_test, suggest_lr


def _curve(lrs: list[float], centre: float, noise: float = 0.0, seed: int = 0) -> list[float]:
    """A loss that falls fastest at ``centre`` (a sigmoid in log-lr), then blows up past
    10x ``centre``; plus Gaussian noise."""
    x = np.log10(lrs)
    c = math.log10(centre)
    loss = 1.0 - 0.6 / (1 + np.exp(-4 * (x - c))) + np.exp(3 * (x - c - 1.0)) * 0.3
    return (loss + np.random.default_rng(seed).normal(0, noise, len(x))).tolist()


def test_the_pick_is_the_steepest_descent_of_the_smoothed_curve():
    lrs = range_lrs()
    suggestion = suggest_lr(lrs, _curve(lrs, centre=1e-4))
    assert suggestion.lr == pytest.approx(1e-4, rel=0.3)
    assert suggestion.steepest_index < suggestion.min_index


@pytest.mark.parametrize("seed", range(5))
def test_noise_spikes_do_not_move_the_pick_far(seed):
    lrs = range_lrs()
    noisy = _curve(lrs, centre=1e-4, noise=0.04, seed=seed)
    suggestion = suggest_lr(lrs, noisy)
    # the raw curve's steepest drop lands anywhere; the smoothed pick stays within 3x
    assert 1e-4 / 3 <= suggestion.lr <= 1e-4 * 3


def test_the_pick_is_never_past_the_minimum_even_if_the_curve_drops_after_divergence():
    lrs = range_lrs()
    losses = _curve(lrs, centre=1e-5)
    losses[-5:] = [0.1, 0.05, 0.02, 0.01, 0.0]  # a collapse after blowing up (a NaN'd model)
    suggestion = suggest_lr(lrs, losses)
    assert suggestion.lr == pytest.approx(1e-5, rel=0.3)


def test_a_flat_curve_keeps_the_default_and_says_why():
    lrs = range_lrs()
    flat = [1.0 - 0.01 * i / len(lrs) for i in range(len(lrs))]
    suggestion = suggest_lr(lrs, flat)
    assert suggestion.lr is None and "no clear descent" in suggestion.reason
    assert MIN_DROP == 0.05


def test_the_test_stops_at_the_first_nonfinite_loss():
    losses = iter([1.0, 0.9, 0.8, float("nan"), 0.1])
    test = run_range_test(lambda lr: next(losses), [1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    assert (test.stop, test.losses, test.lrs) == ("nonfinite", [1.0, 0.9, 0.8], [1e-5, 1e-4, 1e-3])


def test_the_test_stops_once_the_smoothed_loss_passes_four_times_its_minimum():
    losses = iter([1.0, 0.5, 0.4, 5.0, 40.0, 80.0, 100.0, 100.0])
    test = run_range_test(lambda lr: next(losses), range_lrs(steps=8))
    assert test.stop == "diverged" and len(test.losses) == 5


def test_auto_values_are_validated_when_the_config_loads():
    cfg = load_config(overrides=["train.lr=auto", "train.epochs=auto"])
    assert (cfg.train.lr, cfg.train.epochs) == ("auto", "auto")
    assert load_config(overrides=["train.lr=1e-4"]).train.lr == pytest.approx(1e-4)
    with pytest.raises(ConfigError, match="train.lr: Value error, expected a number or 'auto'"):
        load_config(overrides=["train.lr=fast"])
    with pytest.raises(ConfigError, match="train.lr: Input should be greater than 0"):
        load_config(overrides=["train.lr=0"])
    with pytest.raises(ConfigError, match="epochs=auto ends when early stopping does"):
        load_config(overrides=["train.epochs=auto", "train.early_stopping.enabled=false"])


def test_a_run_with_lr_and_epochs_auto_records_the_curve_and_restores_the_model(
    tiny_config, tmp_path, monkeypatch
):
    from tunelab import lr_finder

    seen = {}
    real = lr_finder.lr_range_test

    def spy(parts, lrs=None):
        before = {k: v.clone() for k, v in parts.model.state_dict().items()}
        test = real(parts, lrs)
        after = parts.model.state_dict()
        seen["restored"] = all(torch.equal(before[k], after[k]) for k in before)
        return test

    monkeypatch.setattr("tunelab.auto_train.lr_range_test", spy)
    tiny_config["train"].update(lr="auto", epochs="auto")
    tiny_config["train"]["early_stopping"] = {"patience": 1}
    out = io.StringIO()
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=Console(file=out, width=300))
    decisions = json.loads((result.run_dir / "metrics.json").read_text())["decisions"]
    lr, epochs = decisions["train.lr"], decisions["train.epochs"]
    assert seen["restored"]
    assert len(lr["curve"]["lr"]) == len(lr["curve"]["loss"]) == len(lr["curve"]["smoothed"])
    assert 1e-6 <= lr["value"] <= 1e-2 and lr["reason"].startswith("auto: range test, ")
    assert f"train.lr: {lr['value']} ({lr['reason']})" in out.getvalue()
    assert (epochs["value"], epochs["patience"], epochs["metric"]) == (20, 3, "f1_macro")
    assert result.metrics["stopped_early"] or result.metrics["epochs_run"] == 20
    history = [json.loads(line) for line in (result.run_dir / "history.jsonl").open()]
    assert max(row["lr"] for row in history) <= lr["value"]  # trained with the pick


def test_the_report_plots_the_recorded_range_test(tmp_path):
    from tunelab.report.decision_sections import LR_TITLE, decision_sections
    from tunelab.report.records import RunData

    lrs = range_lrs()
    losses = _curve(lrs, centre=1e-4, noise=0.02)
    suggestion = suggest_lr(lrs, losses)
    decision = {
        "value": suggestion.lr,
        "reason": f"auto: range test, 40 steps (end); {suggestion.reason}",
        "curve": {"lr": lrs, "loss": losses, "smoothed": suggestion.smoothed},
        "min_index": suggestion.min_index,
    }
    (tmp_path / "metrics.json").write_text(json.dumps({"decisions": {"train.lr": decision}}))
    run = RunData(tmp_path, metrics=None, config=None, history=None, layers=None, data=None)
    (section,) = decision_sections(run)
    assert section.title == LR_TITLE and section.figure.startswith("data:image/png;base64,")
    assert "steepest descent of the smoothed loss at 0.0001" in section.html
    (tmp_path / "metrics.json").write_text(json.dumps({"decisions": {}}))
    assert decision_sections(run) == []
