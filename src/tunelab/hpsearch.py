"""``search(config)``: hyper-parameter search on Optuna: TPE, pruning, shared storage, isolation.

The study lives in an Optuna RDB storage (a SQLite file in the output directory by
default, or any URL such as PostgreSQL), so the same command on several machines shares
one study, and re-running it resumes. Each trial is an ordinary run directory under
``<output>/trials/trial-<n>/``, trained by :func:`tunelab.fine_tune` with a callback that
reports every epoch's validation metric to the pruner.

Isolation: by default each trial runs in a fresh process (forked by
:mod:`tunelab.search_worker`, a server that imported tunelab once), so its model,
optimizer and allocator state die with it; the ``inprocess`` mode frees them between
trials instead. A trial whose process is killed is
marked failed and queued again once (``search.max_retries``); a trial whose whole
``tunelab search`` died is found by its stale heartbeat the next time any process opens
the study.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import resource
import signal
import socket
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import psutil
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from tunelab.callbacks import Callback
from tunelab.config import Config, SearchConfig, load_config, validate_config
from tunelab.errors import ConfigError, TunelabError
from tunelab.io import write_json
from tunelab.run import fine_tune
from tunelab.search_space import Param, apply_params, baseline_params, parse_space, run_dict
from tunelab.search_worker import TrialWorkers

PRUNER_STARTUP_TRIALS = 3  # trials the median pruner needs (finished, and at an epoch)
STORAGE_ATTEMPTS = 4  # creating a new database's tables races between processes
MAX_CONSECUTIVE_FAILURES = 3  # a search whose trials keep failing stops with the last error
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
FEATURE_CACHE = "feature_cache"


@dataclass
class SearchResult:
    """What a search left: the output directory, its summary and the best trial's config."""

    output_dir: Path
    summary: dict
    trials: list[dict] = field(default_factory=list)
    best_config: Path | None = None
    report: Path | None = None


@dataclass
class ProcessLog:
    """What this process did: which trials it ran, and its memory after each."""

    isolation: str
    started: float = field(default_factory=time.perf_counter)
    trials_run: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    consecutive_failures: int = 0
    last_error: str = ""

    def record(self, trial: FrozenTrial | None, error: str = "") -> None:
        """Add one finished trial (None: the worker died before it had one)."""
        if trial is not None:
            self.trials_run.append(trial.number)
        self.rss_mb.append(psutil.Process().memory_info().rss / 2**20)
        self.peak_rss_mb.append(peak_rss_mb())
        failed = trial is None or trial.state == TrialState.FAIL
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        if failed:
            self.last_error = error or (trial.user_attrs.get("error", "") if trial else "")

    def to_dict(self) -> dict[str, Any]:
        """The ``this_process`` part of ``search_summary.json``."""
        first = self.rss_mb[0] if self.rss_mb else None
        return {
            "isolation": self.isolation,
            "host": socket.gethostname(),
            "trials_run": len(self.trials_run),
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "rss_mb_after_each_trial": [round(v, 1) for v in self.rss_mb],
            "rss_ratio_last_to_first": round(self.rss_mb[-1] / first, 3) if first else None,
            "rss_ratio_max_to_first": round(max(self.rss_mb) / first, 3) if first else None,
            "peak_rss_mb_after_first_trial": round(self.peak_rss_mb[0], 1) if first else None,
            "peak_rss_mb_after_last_trial": round(self.peak_rss_mb[-1], 1) if first else None,
        }


def search(
    config: Config | dict | str | Path,
    trials: int | None = None,
    timeout: float | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    metric: str | None = None,
    direction: str | None = None,
    output_dir: str | Path = "runs/search",
    isolation: str | None = None,
    console: Console | None = None,
    report: bool = True,
) -> SearchResult:
    """Search ``config.search.space`` with TPE and pruning; write best.yaml and trials.csv.

    Arguments left as None come from the config's ``search`` section.

    Args:
        config: a :class:`Config`, a raw dict, or a YAML path.
        trials: the study's trial budget: stop once it holds this many trials (complete,
            pruned or failed; a killed trial that was retried is not counted).
        timeout: seconds after which this process starts no new trial.
        storage: an Optuna RDB URL; default ``sqlite:///<output>/study.db``.
        study_name: default: the output directory's name.
        metric: the validation metric to optimise (``f1_macro``, ``accuracy``, ``loss``...).
        direction: ``maximize`` or ``minimize`` (default: minimize loss, maximize the rest).
        output_dir: where trial run directories and the results go.
        isolation: ``subprocess`` (a fresh process per trial) or ``inprocess``.
        console: where progress goes (default: quiet).
        report: write ``search_report.html``.

    Raises:
        ConfigError: a bad search space or option, or a study started with another config.
        TunelabError: trials keep failing (the last error is in the message).
    """
    base = _resolve(
        config,
        trials=trials,
        timeout_seconds=timeout,
        metric=metric,
        direction=direction,
        isolation=isolation,
    )
    params = parse_space(base)
    console = console or Console(quiet=True)
    out = Path(output_dir).resolve()
    (out / "trials").mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{out / 'study.db'}"
    study = open_study(url, study_name or out.name, base, params, console)
    log = ProcessLog(base.search.isolation)
    _announce(console, study, url, base, params)
    _optimize(study, base, params, out, url, log, console)
    from tunelab.search_results import finish

    return finish(study, base, params, out, url, log, console, report)


def _resolve(config: Config | dict | str | Path, **overrides: Any) -> Config:
    """The config with the API / CLI search options applied, validated as one."""
    if isinstance(config, Config):
        raw = config.model_dump(mode="json")
    elif isinstance(config, dict):
        raw = load_config(base=config).model_dump(mode="json")
    else:
        raw = load_config(config).model_dump(mode="json")
    raw["search"].update({k: v for k, v in overrides.items() if v is not None})
    return validate_config(raw, source="search options")


def direction_of(settings: SearchConfig) -> str:
    """``maximize`` or ``minimize``; unset means minimize loss and maximize scores."""
    return settings.direction or ("minimize" if settings.metric == "loss" else "maximize")


# --------------------------------------------------------------------- storage and study
def open_storage(url: str, settings: SearchConfig) -> optuna.storages.RDBStorage:
    """The RDB storage with heartbeats, so a trial whose process died is failed and retried.

    Several processes starting on a new database race to create its tables; the losers
    retry, by when the tables exist.
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
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
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


class OptunaPruning(Callback):
    """Report each epoch's validation metric to the trial; stop the run when it is pruned.

    Raises ``optuna.TrialPruned`` out of the trainer; :func:`fine_tune` lets it through
    and the study records the trial as pruned. Only epoch-end evaluations are reported:
    epochs are comparable across batch sizes, optimizer steps are not.
    """

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def on_evaluate(self, trainer: Any, metrics: dict[str, float]) -> None:
        if trainer.state.batch_in_epoch != 0:
            return
        epoch, value = trainer.state.epoch, float(metrics[self.metric])
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({self.metric} {value:.4f})")


# ------------------------------------------------------------------------- one trial
class TrialRunner:
    """Runs one trial of the study in this process: draw, fine-tune with pruning, record.

    Both isolation modes use it: ``inprocess`` calls it in a loop, a subprocess worker
    calls it once. ``feature_memory`` (in-process) and the shared on-disk feature cache
    make every feature-extraction trial after the first skip the backbone.
    """

    def __init__(
        self,
        base: Config,
        params: list[Param],
        output_dir: Path,
        feature_memory: dict | None = None,
        launch_id: str | None = None,
    ) -> None:
        self.base, self.params, self.output_dir = base, params, output_dir
        self.metric = base.search.metric
        self.feature_memory, self.launch_id = feature_memory, launch_id
        self.cache_dir = Path(base.strategy.cache_dir or output_dir / FEATURE_CACHE)

    def run_one(self, study: optuna.Study) -> FrozenTrial:
        """Ask the study for a trial (a queued one first), run it, return it finished."""
        self.number = -1
        study.optimize(self.objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
        return _trial_by_number(study, self.number)

    def objective(self, trial: optuna.Trial) -> float:
        """The value of one trial: the validation metric of its best epoch."""
        self.number = trial.number
        run_dir = self.output_dir / "trials" / f"trial-{trial.number}"
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("run_dir", str(run_dir))
        if self.launch_id:
            trial.set_user_attr("launch_id", self.launch_id)
        cached_before = _count_files(self.cache_dir)
        cfg = None
        try:
            cfg = apply_params(self.base, self.params, trial, source=f"trial {trial.number}")
            cfg.strategy.cache_dir = str(self.cache_dir)
            with _trial_log(run_dir.with_suffix(".log")) as console:
                result = fine_tune(
                    cfg,
                    run_dir,
                    overwrite=True,
                    console=console,
                    feature_memory=self.feature_memory,
                    callbacks=[OptunaPruning(trial, self.metric)],
                )
        except optuna.TrialPruned as pruned:
            write_json(run_dir / "status.json", {"state": "pruned", "reason": str(pruned)})
            raise
        except Exception as err:
            text = str(err) if isinstance(err, TunelabError) else f"{type(err).__name__}: {err}"
            trial.set_user_attr("error", text[:500])
            raise
        finally:
            self._record(trial, cfg, cached_before)
        return float(result.metrics["validation"][self.metric])

    def _record(self, trial: optuna.Trial, cfg: Config | None, cached_before: int) -> None:
        trial.set_user_attr("peak_rss_mb", round(peak_rss_mb(), 1))
        if cfg is not None and cfg.strategy.name == "feature_extraction":
            computed = _count_files(self.cache_dir) > cached_before
            trial.set_user_attr("features", "computed" if computed else "cached")


@contextlib.contextmanager
def _trial_log(path: Path) -> Iterator[Console]:
    """The trial's progress (what ``tunelab run`` prints) goes to ``trials/trial-<n>.log``."""
    with open(path, "a") as handle:
        yield Console(file=handle, width=120, force_terminal=False, soft_wrap=True)


def _count_files(directory: Path) -> int:
    return sum(1 for _ in directory.glob("*.safetensors")) if directory.is_dir() else 0


def _trial_by_number(study: optuna.Study, number: int) -> FrozenTrial:
    return next(t for t in reversed(study.get_trials(deepcopy=False)) if t.number == number)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def release_memory() -> None:
    """Give a finished in-process trial's memory back: objects, CUDA cache, malloc arenas."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# ------------------------------------------------------------------------ the loop
def _optimize(
    study: optuna.Study,
    base: Config,
    params: list[Param],
    out: Path,
    url: str,
    log: ProcessLog,
    console: Console,
) -> None:
    """Run trials until the study holds ``search.trials`` or the timeout has passed."""
    settings = base.search
    runner = TrialRunner(base, params, out, feature_memory={})
    workers = TrialWorkers()
    try:
        while _budget_left(study, settings.trials) and not _timed_out(log, settings):
            if settings.isolation == "inprocess":
                trial, error = runner.run_one(study), ""
                release_memory()
            else:
                trial, error = _run_in_subprocess(study, base, out, url, workers)
            _after_trial(log, console, trial, error, settings.metric, out)
    finally:
        workers.close()


def _after_trial(
    log: ProcessLog, console: Console, trial: FrozenTrial | None, error: str, metric: str, out: Path
) -> None:
    """Record and print a finished trial; stop a search whose trials keep failing."""
    log.record(trial, error)
    print_trial(console, trial, metric, error)
    if log.consecutive_failures >= MAX_CONSECUTIVE_FAILURES:
        raise TunelabError(
            f"search stopped: {log.consecutive_failures} trials in a row failed; the last "
            f"with: {log.last_error or 'no message'} (see {out / 'trials'})"
        )


def _budget_left(study: optuna.Study, budget: int) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # a dead process's trial must not hold a slot
    return counted_trials(study.get_trials(deepcopy=False)) < budget


def counted_trials(trials: list[FrozenTrial]) -> int:
    """Trials that use the budget: all but waiting ones and killed ones that were retried."""
    retried = {t.user_attrs["retry_of"] for t in trials if "retry_of" in t.user_attrs}
    return sum(t.state in COUNTED and t.number not in retried for t in trials)


def _timed_out(log: ProcessLog, settings: SearchConfig) -> bool:
    limit = settings.timeout_seconds
    return limit is not None and time.perf_counter() - log.started >= limit


def _run_in_subprocess(
    study: optuna.Study, base: Config, out: Path, url: str, workers: TrialWorkers
) -> tuple[FrozenTrial | None, str]:
    """One trial in a fresh worker process; fail and retry it if the worker dies inside it."""
    launch_id = uuid.uuid4().hex[:12]
    worker_log = out / "trials" / f".worker-{launch_id}.log"
    payload = {
        "config": base.model_dump(mode="json"),
        "storage": url,
        "study": study.study_name,
        "output_dir": str(out),
        "launch_id": launch_id,
    }
    _, exitcode = workers.run(payload, str(worker_log))
    trial = _launched_trial(study, launch_id)
    error = ""
    if trial is not None and trial.state == TrialState.RUNNING:
        trial, error = _fail_dead_worker(study, trial, exitcode, base.search.max_retries)
    elif trial is None:
        error = f"worker exited with code {exitcode} before starting a trial: " + (
            _last_line(worker_log) if worker_log.is_file() else "no output"
        )
    if worker_log.is_file():
        _keep_worker_log(worker_log, trial)
    return trial, error


def _launched_trial(study: optuna.Study, launch_id: str) -> FrozenTrial | None:
    for trial in reversed(study.get_trials(deepcopy=False)):
        if trial.user_attrs.get("launch_id") == launch_id:
            return trial
    return None


def _fail_dead_worker(
    study: optuna.Study, trial: FrozenTrial, returncode: int, max_retries: int
) -> tuple[FrozenTrial, str]:
    """The worker died inside its trial (killed, out of memory): fail it, queue a retry."""
    how = (
        f"killed by {signal.Signals(-returncode).name}"
        if returncode < 0
        else f"exited with code {returncode}"
    )
    study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    failed = _trial_by_number(study, trial.number)
    RetryKilledTrial(max_retries)(study, failed)
    return failed, f"worker process {how}"


def _keep_worker_log(worker_log: Path, trial: FrozenTrial | None) -> None:
    """Append the worker's own output (warnings, tracebacks) to the trial's log."""
    if trial is None:
        worker_log.rename(worker_log.with_name(worker_log.name.lstrip(".")))
        return
    text = worker_log.read_text(errors="replace").strip()
    if text:
        with open(worker_log.parent / f"trial-{trial.number}.log", "a") as handle:
            handle.write(f"\n--- worker process output ---\n{text}\n")
    worker_log.unlink()


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def warm_imports(config: dict[str, Any]) -> None:
    """Import what a first trial imports lazily (model classes, accelerate, peft, sklearn).

    The fork server calls it once so every forked worker starts warm: in a fresh
    process these imports cost more than training a head on cached features. Best
    effort, and without tensors or weights: a forked child must not inherit a started
    thread pool.
    """
    import accelerate  # noqa: F401
    import peft  # noqa: F401
    import sklearn.metrics  # noqa: F401

    with contextlib.suppress(Exception):  # an image model, or a name that fails later anyway
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        from tunelab.models.registry import resolve_model_path

        path = resolve_model_path(config["model"]["name"])
        MODEL_MAPPING[type(AutoConfig.from_pretrained(str(path)))]


def run_worker(payload: dict[str, Any]) -> None:
    """Run one trial of a shared study (the body of a subprocess worker)."""
    base = validate_config(payload["config"], source="search worker")
    params = parse_space(base)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=payload["study"],
        storage=open_storage(payload["storage"], base.search),
        sampler=make_sampler(base.search),
        pruner=make_pruner(base.search),
    )
    runner = TrialRunner(base, params, Path(payload["output_dir"]), None, payload["launch_id"])
    runner.run_one(study)


# --------------------------------------------------------------------------- output
def _announce(
    console: Console, study: optuna.Study, url: str, base: Config, params: list[Param]
) -> None:
    done = counted_trials(study.get_trials(deepcopy=False))
    resumed = f", resuming with {done} trials done" if done else ""
    console.print(
        f"study [bold]{study.study_name}[/] in {redact(url)}{resumed}; "
        f"{base.search.trials} trials, {base.search.metric} "
        f"({direction_of(base.search)}), {base.search.isolation} isolation"
    )
    console.print("space: " + "; ".join(f"{p.key} {p.kind} {list(p.values)}" for p in params))


def print_trial(console: Console, trial: FrozenTrial | None, metric: str, error: str = "") -> None:
    """One line per finished trial."""
    if trial is None:
        console.print(f"[red]worker failed[/]: {error}")
        return
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    if trial.state == TrialState.COMPLETE:
        outcome = f"[green]{metric} {trial.value:.4f}[/]"
    elif trial.state == TrialState.PRUNED:
        outcome = f"[yellow]pruned at epoch {trial.last_step}[/]"
    else:
        outcome = f"[red]failed[/]: {error or trial.user_attrs.get('error', '')}"
    tag = " (baseline)" if trial.user_attrs.get("baseline") else ""
    params = " ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    console.print(
        f"trial {trial.number}{tag}: {outcome} in {seconds:.1f}s  [dim]{params}[/]", highlight=False
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
