"""The study: a sampler seeded per trial, and a dead search's trial found by its heartbeat."""

from __future__ import annotations

import time

import optuna
import pytest
import sqlalchemy.exc
from optuna.trial import TrialState

from tunelab.config import SearchConfig
from tunelab.hpsearch import search, study
from tunelab.hpsearch.study import TrialSeededSampler

from .conftest import load_study, search_config, start_tunelab, wait_for_running_trial, write_config


def test_sampler_is_seeded_by_trial_number():
    def draws(seed: int, first_number: int) -> list[float]:
        study = optuna.create_study(sampler=TrialSeededSampler(seed, 4))
        for _ in range(first_number):  # other workers' trials take the first numbers
            study.enqueue_trial({"x": 0.5})
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=first_number + 3)
        return [t.params["x"] for t in study.trials[first_number:]]

    assert draws(0, 0) == draws(0, 0), "a search is reproducible"
    assert draws(0, 0) != draws(1, 0)
    assert draws(0, 2)[0] == draws(0, 0)[2], "trial 2 draws the same point in any process"


@pytest.mark.parametrize(
    "race",
    [
        sqlalchemy.exc.ProgrammingError,
        sqlalchemy.exc.IntegrityError,
        sqlalchemy.exc.OperationalError,
    ],
)
def test_opening_storage_retries_when_another_process_created_the_tables(monkeypatch, race):
    """PostgreSQL's loser of the race to create the tables gets ``DuplicateTable``
    (ProgrammingError); a fresh-clone CI run once failed on it before it was retried."""
    real, calls = optuna.storages.RDBStorage, []

    def racing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise race("CREATE TABLE studies", {}, Exception('relation "studies" already exists'))
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(study.time, "sleep", lambda seconds: None)
    storage = study.open_storage("sqlite://", SearchConfig())
    assert len(calls) == 2
    assert storage.get_all_studies() == []


def test_opening_storage_does_not_retry_a_missing_sqlite_file(tmp_path):
    """A wrong path is the user's error, reported at once, not a race to wait out."""
    with pytest.raises(sqlalchemy.exc.OperationalError):
        study.open_storage(f"sqlite:///{tmp_path}/no/such/dir/study.db", SearchConfig())


@pytest.mark.integration  # waits out a heartbeat grace period
def test_a_killed_search_leaves_a_stale_trial_the_next_run_fails_and_retries(
    tiny_config, tmp_path, processes
):
    config = search_config(tiny_config, pruner="none", heartbeat_seconds=1)
    config["train"]["epochs"] = 30
    path, out = write_config(tmp_path, config), tmp_path / "search"
    proc = start_tunelab(processes, "search", path, "--trials", 2, "-o", out)
    victim = wait_for_running_trial(out)
    proc.kill()
    proc.wait()
    time.sleep(4)  # the heartbeat goes stale after 3 x heartbeat_seconds
    result = search(path, output_dir=out, trials=2)
    trials = {t.number: t for t in load_study(out).trials}
    assert trials[victim.number].state == TrialState.FAIL
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE
    assert result.summary["trials"]["complete"] == 2
