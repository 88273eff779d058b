"""One trial in this process: pruning, the shared feature cache, memory over many trials."""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.trial import TrialState

import tunelab.hpsearch.study as study_module
from tunelab.hpsearch import search
from tunelab.hpsearch.trials import OptunaPruning

from .conftest import load_study, search_config


class _FakeTrainer:
    def __init__(self, epoch: int, batch_in_epoch: int = 0) -> None:
        self.state = type("State", (), {"epoch": epoch, "batch_in_epoch": batch_in_epoch})()


def test_pruning_callback_reports_epochs_and_raises_when_pruned():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
    )
    for value in (0.8, 0.9):  # two finished trials that were good after epoch 1
        study.add_trial(optuna.create_trial(value=value, intermediate_values={1: value}))
    trial = study.ask()
    callback = OptunaPruning(trial, "f1_macro")
    callback.on_evaluate(_FakeTrainer(epoch=0, batch_in_epoch=5), {"f1_macro": 0.1})
    assert study.trials[-1].intermediate_values == {}, "mid-epoch evaluations are not reported"
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        callback.on_evaluate(_FakeTrainer(epoch=1), {"f1_macro": 0.2})
    good = OptunaPruning(study.ask(), "f1_macro")
    good.on_evaluate(_FakeTrainer(epoch=1), {"f1_macro": 0.95})  # above the median: goes on


class _PruneAfterBaseline(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.number > 0


def test_pruned_trials_propagate_out_of_fine_tune_and_are_recorded(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setattr(study_module, "make_pruner", lambda settings: _PruneAfterBaseline())
    out = tmp_path / "search"
    result = search(search_config(tiny_config, trials=3), output_dir=out)
    assert result.summary["trials"]["pruned"] == 2 and result.summary["trials"]["complete"] == 1
    states = {t.number: t.state for t in load_study(out).trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.PRUNED, 2: TrialState.PRUNED}
    status = json.loads((out / "trials" / "trial-1" / "status.json").read_text())
    assert status["state"] == "pruned" and "epoch 1" in status["reason"]


def test_feature_extraction_trials_share_one_backbone_pass(tiny_config, tmp_path):
    config = search_config(
        tiny_config, trials=4, pruner="none", space={"train.head_lr": {"log_uniform": [1e-3, 3e-2]}}
    )
    config["strategy"] = {"name": "feature_extraction"}
    result = search(config, output_dir=tmp_path / "search")
    cache = result.summary["feature_cache"]
    assert cache["trials_computing_features"] == 1 and cache["trials_reusing_features"] == 3


def test_memory_stays_flat_over_20_inprocess_trials(tiny_config, tmp_path):
    config = search_config(tiny_config, trials=20, pruner="none", baseline=False)
    config["train"]["epochs"] = 1
    result = search(config, output_dir=tmp_path / "search")
    proc = result.summary["this_process"]
    assert proc["trials_run"] == 20
    rss = proc["rss_mb_after_each_trial"]
    assert max(rss) <= 1.2 * rss[0], rss
    assert proc["peak_rss_mb_after_last_trial"] <= 1.2 * proc["peak_rss_mb_after_first_trial"]
