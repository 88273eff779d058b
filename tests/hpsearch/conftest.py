"""Shared search fixtures and helpers: a fast space on the tiny random BERT, started processes.

Searches run on the tiny random BERT; the multi-process tests start real ``tunelab``
processes on one SQLite study, as users on several machines would on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

FAST_SPACE = {
    "strategy.name": {"choice": ["feature_extraction", "top_k"]},
    "train.head_lr": {"log_uniform": ["1e-3", "3e-2"]},  # YAML 1.1 strings, as users write them
    "strategy.k": {"int": [1, 2], "when": {"strategy.name": "top_k"}},
}


@pytest.fixture(autouse=True)
def _one_thread_per_process(monkeypatch):
    """Tiny models on a shared CPU: one thread per process avoids oversubscription stalls."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # for the tunelab processes tests start
    yield
    torch.set_num_threads(before)


@pytest.fixture
def processes():
    """Started ``tunelab`` processes; any still running when a test ends is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def search_config(tiny_config: dict, **search: object) -> dict:
    """The tiny config with a fast in-process search over ``FAST_SPACE``."""
    return {**tiny_config, "search": {"space": FAST_SPACE, "isolation": "inprocess", **search}}


def write_config(tmp_path: Path, config: dict) -> Path:
    """Write a config as ``search.yaml``, for the CLI and the processes tests start."""
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def load_study(out: Path) -> optuna.Study:
    """The study a search wrote in ``out``, read back from its SQLite file."""
    return optuna.load_study(study_name=out.name, storage=f"sqlite:///{out / 'study.db'}")


def start_tunelab(processes: list, *args: object) -> subprocess.Popen:
    """Start ``tunelab <args>`` as its own process, killed at the end of the test."""
    command = [sys.executable, "-m", "tunelab.cli", *(str(a) for a in args)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    processes.append(proc)
    return proc


def wait_for_running_trial(out: Path, timeout: float = 60.0) -> optuna.trial.FrozenTrial:
    """The first trial a worker is running with all its parameters drawn, once the study
    shows one. The worker records itself, then draws the parameters one by one, then
    creates the trial's run directory: a kill before that, which a loaded machine makes
    likely, leaves a trial with some parameters, and its retry draws the rest afresh."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the database or study may not exist yet
            for trial in load_study(out).get_trials(states=(TrialState.RUNNING,)):
                run_dir = trial.user_attrs.get("run_dir")
                if "worker" in trial.user_attrs and run_dir and Path(run_dir).is_dir():
                    return trial
        time.sleep(0.2)
    raise AssertionError("no trial started running")
