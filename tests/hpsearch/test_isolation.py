"""Subprocess isolation: a trial whose worker process is killed fails and is retried once."""

from __future__ import annotations

import os
import signal

import pytest
from optuna.trial import TrialState

from tunelab.hpsearch.study import counted_trials

from .conftest import load_study, search_config, start_tunelab, wait_for_running_trial, write_config


@pytest.mark.integration  # three tunelab processes: about 30 s
def test_a_killed_trial_worker_fails_and_is_retried_once(tiny_config, tmp_path, processes):
    config = search_config(tiny_config, isolation="subprocess", pruner="none")
    config["train"]["epochs"] = 4
    out = tmp_path / "search"
    proc = start_tunelab(
        processes, "search", write_config(tmp_path, config), "--trials", 2, "-o", out
    )
    victim = wait_for_running_trial(out)
    os.kill(int(victim.user_attrs["worker"].split(":")[1]), signal.SIGKILL)
    output = proc.communicate(timeout=240)[0].decode()
    assert proc.returncode == 0, output
    assert "killed by SIGKILL" in output
    trials = {t.number: t for t in load_study(out).trials}
    assert trials[victim.number].state == TrialState.FAIL
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE and retry.params == victim.params
    assert counted_trials(list(trials.values())) == 2, "the killed try does not use the budget"
