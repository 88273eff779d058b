"""The search loop: two ``tunelab search`` processes share one study and its trial budget."""

from __future__ import annotations

import json

from optuna.trial import TrialState

from tunelab.hpsearch.study import counted_trials

from .conftest import load_study, search_config, start_tunelab, write_config


def test_two_processes_finish_one_study_together(tiny_config, tmp_path, processes):
    config = search_config(tiny_config, pruner="none")
    config["train"]["epochs"] = 3
    path, out = write_config(tmp_path, config), tmp_path / "shared"
    out.mkdir()
    first = start_tunelab(processes, "search", path, "--trials", 8, "-o", out)
    second = start_tunelab(processes, "search", path, "--trials", 8, "-o", out)
    for proc in (first, second):
        output = proc.communicate(timeout=240)[0].decode()
        assert proc.returncode == 0, output
    trials = load_study(out).trials
    assert counted_trials(trials) == 8 and len(trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, "both processes ran trials of the one study"
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) >= 6, "distinct draws"
