"""``search(config)``: hyper-parameter search on Optuna: TPE, pruning, shared storage, isolation.

The study lives in an Optuna RDB storage (see :mod:`tunelab.hpsearch.study`), so the same
command on several machines shares one study, and re-running it resumes. Each trial is
an ordinary run directory under ``<output>/trials/trial-<n>/`` (see
:mod:`tunelab.hpsearch.trials`).

Isolation: by default each trial runs in a fresh process (forked by the server in
:mod:`tunelab.hpsearch.isolation`, which imported tunelab once), so its model,
optimizer and allocator state die with it; the ``inprocess`` mode frees them between
trials instead. A trial whose process is killed is
marked failed and queued again once (``search.max_retries``); a trial whose whole
``tunelab search`` died is found by its stale heartbeat the next time any process opens
the study.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.markup import escape

from tunelab.config import Config, SearchConfig, as_config, validate_config
from tunelab.errors import TunelabError
from tunelab.hpsearch.isolation import TrialWorkers, run_in_subprocess
from tunelab.hpsearch.results import SearchResult, finish
from tunelab.hpsearch.space import Param, parse_space
from tunelab.hpsearch.study import counted_trials, direction_of, open_study, redact
from tunelab.hpsearch.trials import ProcessLog, TrialRunner, release_memory
from tunelab.tasks import get_task
from tunelab.tracking import parent_run, summary_metrics

MAX_CONSECUTIVE_FAILURES = 3  # a search whose trials keep failing stops with the last error
# The search's files its parent run keeps (``train.report_to: [mlflow]``).
TRACKED_FILES = ("best.yaml", "trials.csv", "search_summary.json", "search_report.html")


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
        metric: the validation metric to optimise (default: the task's monitored metric).
        direction: ``maximize`` or ``minimize`` (default: the metric's own direction).
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
    with parent_run(base, out, "search") as tracked:  # train.report_to: one parent run
        _optimize(study, base, params, out, url, log, console)
        result = finish(study, base, params, out, url, log, console, report)
        tracked.finish(_tracked_numbers(result), [out / name for name in TRACKED_FILES])
    return result


def _tracked_numbers(result: SearchResult) -> dict[str, float]:
    """What the search's parent run logs: each trial's value and the best one."""
    rows = [{"trial": f"trial-{r['number']}", "value": r["value"]} for r in result.trials]
    best = (result.summary.get("best") or {}).get("value")
    return {**summary_metrics(rows, "trial"), **({"best_value": best} if best is not None else {})}


def _resolve(config: Config | dict | str | Path, **overrides: Any) -> Config:
    """The config with the API / CLI search options applied, validated as one.

    Only the keys the config was given are carried (:meth:`Config.given`): a trial's
    unset keys must stay unset for its strategy's defaults to apply.
    """
    raw = as_config(config).given()
    raw.setdefault("search", {}).update({k: v for k, v in overrides.items() if v is not None})
    base = validate_config(raw, source="search options")
    objective = get_task(base.task).objective_class_for(base)
    metric = base.search.metric or objective.monitor
    mode = objective.spec(metric).mode
    base.search.metric = metric
    base.search.direction = base.search.direction or ("maximize" if mode == "max" else "minimize")
    return base


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
                trial, error = run_in_subprocess(study, base, out, url, workers)
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


def _timed_out(log: ProcessLog, settings: SearchConfig) -> bool:
    limit = settings.timeout_seconds
    return limit is not None and time.perf_counter() - log.started >= limit


# --------------------------------------------------------------------------- output
def _announce(
    console: Console, study: optuna.Study, url: str, base: Config, params: list[Param]
) -> None:
    done = counted_trials(study.get_trials(deepcopy=False))
    resumed = f", resuming with {done} trials done" if done else ""
    # escape: names, paths and values are the user's; "[v2]" would be read as markup
    console.print(
        f"study [bold]{escape(study.study_name)}[/] in {escape(redact(url))}{resumed}; "
        f"{base.search.trials} trials, {escape(base.search.metric)} "
        f"({direction_of(base.search)}), {base.search.isolation} isolation"
    )
    space = "; ".join(f"{p.key} {p.kind} {list(p.values)}" for p in params)
    console.print("space: " + escape(space), highlight=False)


def print_trial(console: Console, trial: FrozenTrial | None, metric: str, error: str = "") -> None:
    """One line per finished trial."""
    if trial is None:
        console.print(f"[red]worker failed[/]: {escape(error)}", highlight=False)
        return
    seconds = trial.duration.total_seconds() if trial.duration else 0.0
    if trial.state == TrialState.COMPLETE:
        outcome = f"[green]{escape(metric)} {trial.value:.4f}[/]"
    elif trial.state == TrialState.PRUNED:
        outcome = f"[yellow]pruned at epoch {trial.last_step}[/]"
    else:
        outcome = f"[red]failed[/]: {escape(str(error or trial.user_attrs.get('error') or ''))}"
    tag = " (baseline)" if trial.user_attrs.get("baseline") else ""
    params = escape(" ".join(f"{k}={_short(v)}" for k, v in trial.params.items()))
    console.print(
        f"trial {trial.number}{tag}: {outcome} in {seconds:.1f}s  [dim]{params}[/]", highlight=False
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
