"""The study: its storage, sampler and pruner, and the rule that one study is one search.

The study lives in an Optuna RDB storage (a SQLite file in the output directory by
default, or any URL such as PostgreSQL), so the same command on several machines shares
one study, and re-running it resumes. Storage heartbeats let any process that opens the
study find a trial whose ``tunelab search`` died, fail it and queue it again.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from tunelab.config import Config, SearchConfig
from tunelab.errors import ConfigError
from tunelab.hpsearch.space import Param, baseline_params, run_dict

PRUNER_STARTUP_TRIALS = 3  # trials the median pruner needs (finished, and at an epoch)
STORAGE_ATTEMPTS = 4  # creating a new database's tables races between processes
SCHEMA_RACE_ERRORS = (
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.ProgrammingError,
)
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


def direction_of(settings: SearchConfig) -> str:
    """``maximize`` or ``minimize`` (the search's options resolve it from the metric)."""
    return settings.direction or ("minimize" if settings.metric == "loss" else "maximize")


def open_storage(url: str, settings: SearchConfig) -> optuna.storages.RDBStorage:
    """The RDB storage with heartbeats, so a trial whose process died is failed and retried.

    Several processes starting on a new database race to create its tables; the losers
    retry, by when the tables exist. The loser's error depends on the backend: SQLite
    reports a locked database (OperationalError), PostgreSQL a duplicate row in its
    catalogue (IntegrityError) or ``DuplicateTable: relation "studies" already exists``
    (ProgrammingError).
    """
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine,
                    heartbeat_interval=settings.heartbeat_seconds,
                    grace_period=3 * settings.heartbeat_seconds,
                    heartbeat_stale_trial_callback=RetryKilledTrial(settings.max_retries),
                )
        except SCHEMA_RACE_ERRORS:
            if attempt == STORAGE_ATTEMPTS - 1 or not _database_exists(url):
                raise
            time.sleep(0.5 + attempt)
    raise AssertionError("unreachable")


def _database_exists(url: str) -> bool:
    """Retry only a race on a database that is there (not a wrong SQLite path)."""
    if not url.startswith("sqlite:///"):
        return True
    return Path(url.removeprefix("sqlite:///")).is_file()


def open_study(
    url: str, name: str, base: Config, params: list[Param], console: Console | None = None
) -> optuna.Study:
    """Create the study, or load it to resume; refuse one started for another search."""
    settings = base.search
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(
            storage=open_storage(url, settings),
            study_name=name,
            load_if_exists=True,
            direction=direction_of(settings),
            sampler=make_sampler(settings),
            pruner=make_pruner(settings),
        )
    except (ValueError, ImportError, sqlalchemy.exc.SQLAlchemyError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"--storage {redact(url)}: cannot open it ({reason})") from None
    _check_same_search(study, name, base, params)
    if settings.baseline and not study.get_trials(deepcopy=False):
        _enqueue_baseline(study, base, params, console or Console(quiet=True))
    return study


def _check_same_search(study: optuna.Study, name: str, base: Config, params: list[Param]) -> None:
    """One study, one question: the same run config, space, metric and direction."""
    identity = {
        "run_config": run_dict(base),
        "space": {p.key: p.to_dict() for p in params},
        "metric": base.search.metric,
    }
    if study.direction.name.lower() != direction_of(base.search):
        raise ConfigError(
            f"study '{name}' {study.direction.name.lower()}s its metric; pass "
            f"--direction {study.direction.name.lower()} or a new --study"
        )
    saved = study.user_attrs.get("tunelab")
    if saved is None:
        study.set_user_attr("tunelab", identity)
        return
    identity = json.loads(json.dumps(identity))  # tuples to lists, as stored
    key = next((f"search.{k}" for k in ("space", "metric") if saved[k] != identity[k]), "")
    key = key or _first_difference(saved["run_config"], identity["run_config"])
    if key:
        raise ConfigError(
            f"study '{name}' was started with a different search ({key} "
            "differs); re-run it with the same config, or pass a new --study "
            "or --output"
        )


def _first_difference(a: Any, b: Any, prefix: str = "") -> str:
    """The first dotted key whose value differs; keys only one side has (a config key
    added by a newer tunelab) do not count, so upgrading does not orphan a study."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) & set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if found:
                return found
        return ""
    return prefix.rstrip(".") if a != b else ""


def _enqueue_baseline(
    study: optuna.Study, base: Config, params: list[Param], console: Console
) -> None:
    """Trial 0 runs the config as written: the number every other trial has to beat."""
    fixed, why = baseline_params(base, params)
    if fixed is None:
        console.print(f"[yellow]note:[/] no baseline trial: {why}")
        return
    study.enqueue_trial(fixed, user_attrs={"baseline": True}, skip_if_exists=True)


def make_sampler(settings: SearchConfig) -> optuna.samplers.BaseSampler:
    """Multivariate TPE (handles ``when`` spaces) seeded per trial; see TrialSeededSampler."""
    return TrialSeededSampler(settings.sampler_seed, n_startup_trials=settings.startup_trials)


def make_pruner(settings: SearchConfig) -> optuna.pruners.BasePruner:
    """Median or successive-halving pruning over per-epoch reports, or none."""
    warmup = settings.pruner_warmup_epochs
    if settings.pruner == "median":
        # n_min_trials: judge an epoch only against several trials that reached it, or a
        # long trial is pruned at epoch 5 for trailing the one other trial that got there.
        return optuna.pruners.MedianPruner(
            n_startup_trials=PRUNER_STARTUP_TRIALS,
            n_warmup_steps=warmup,
            n_min_trials=PRUNER_STARTUP_TRIALS,
        )
    if settings.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=warmup, reduction_factor=3)
    return optuna.pruners.NopPruner()


def redact(url: str) -> str:
    """The storage URL without its password, for printing and summaries."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    user, _, host = rest.rpartition("@")
    return f"{scheme}{sep}{user.split(':')[0]}:***@{host}"


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """TPE whose random state is ``seed + trial number``.

    One seeded ``TPESampler`` per process would make every process (and every
    subprocess worker, which lives for one trial) draw the same random startup points.
    Seeding from the trial number keeps a search reproducible and makes concurrent
    workers draw different points. TPE keeps no other state between trials: it
    re-reads the study's history each time.
    """

    def __init__(self, seed: int, n_startup_trials: int) -> None:
        self.seed, self.n_startup_trials = seed, n_startup_trials
        self._tpe = self._make(seed)

    def _make(self, seed: int) -> optuna.samplers.TPESampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=self.n_startup_trials,
                multivariate=True,
                group=True,
                constant_liar=True,
            )

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._tpe = self._make(self.seed + trial.number)
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):  # noqa: D102 - BaseSampler's contract
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # noqa: D102
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: D102
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:  # noqa: D102
        self._tpe.after_trial(study, trial, state, values)


class RetryKilledTrial:
    """Queue a trial whose process died again, with the same parameters, ``max_retries`` times.

    Used both as the storage's stale-heartbeat callback (the ``tunelab search`` process
    died) and by the parent when a trial's worker process died.
    """

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        retries = int(trial.user_attrs.get("retries", 0))
        if retries >= self.max_retries:
            return
        attrs = {"retry_of": trial.number, "retries": retries + 1}
        if trial.user_attrs.get("baseline"):
            attrs["baseline"] = True
        study.enqueue_trial(trial.params, user_attrs=attrs)


def counted_trials(trials: list[FrozenTrial]) -> int:
    """Trials that use the budget: all but waiting ones and killed ones that were retried."""
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    return sum(t.state in COUNTED and t.number not in retried for t in trials)
