"""What a search leaves behind: best.yaml, trials.csv, search_summary.json and the report.

Every process of a shared study writes these when it stops, from the study in the
storage (not from its own trials), so the last one to stop leaves the complete picture.
"""

from __future__ import annotations

import csv
import io
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FixedTrial, FrozenTrial, TrialState
from rich.console import Console
from rich.table import Table

from tunelab.config import Config
from tunelab.hpsearch.space import Param, apply_params
from tunelab.hpsearch.study import counted_trials, direction_of, redact
from tunelab.hpsearch.trials import ProcessLog
from tunelab.io import write_json, write_text

TABLE_ROWS = 20
ROW_KEYS = (
    "number",
    "state",
    "value",
    "duration_s",
    "last_epoch",
    "last_reported",
    "baseline",
    "retry_of",
    "features",
    "peak_rss_mb",
    "worker",
    "run_dir",
    "error",
)


@dataclass
class SearchResult:
    """What a search left: the output directory, its summary and the best trial's config."""

    output_dir: Path
    summary: dict
    trials: list[dict] = field(default_factory=list)
    best_config: Path | None = None
    report: Path | None = None


def finish(
    study: optuna.Study,
    base: Config,
    params: list[Param],
    out: Path,
    url: str,
    log: ProcessLog,
    console: Console,
    report: bool,
) -> SearchResult:
    """Write the results of the study as it stands now, print them, return them."""
    trials = study.get_trials(deepcopy=False)
    rows = trial_rows(trials, params)
    write_text(out / "trials.csv", trials_csv(rows, params))
    best = best_trial(study)
    best_path = write_best_config(out / "best.yaml", study, base, params, best) if best else None
    summary = summarise(study, trials, base, params, url, log, rows)
    write_json(out / "search_summary.json", summary)
    report_path = _write_report(out, study, summary, rows, params, console) if report else None
    print_results(console, rows, summary)
    return SearchResult(out, summary, rows, best_path, report_path)


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best complete trial, or None while none has completed."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return study.best_trial if complete else None


def trial_rows(trials: list[FrozenTrial], params: list[Param]) -> list[dict[str, Any]]:
    """One plain dict per trial: the rows of trials.csv, the report and the CLI table."""
    return [_row(t, params) for t in trials]


def _row(trial: FrozenTrial, params: list[Param]) -> dict[str, Any]:
    attrs = trial.user_attrs
    error = attrs.get("error", "")
    if trial.state == TrialState.FAIL and not error:
        error = "its process died (killed, or out of memory) before recording a result"
    last = trial.last_step
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "duration_s": round(trial.duration.total_seconds(), 2) if trial.duration else None,
        "last_epoch": last,
        "last_reported": trial.intermediate_values.get(last) if last is not None else None,
        "baseline": bool(attrs.get("baseline")),
        "retry_of": attrs.get("retry_of"),
        "features": attrs.get("features"),
        "peak_rss_mb": attrs.get("peak_rss_mb"),
        "worker": attrs.get("worker"),
        "run_dir": attrs.get("run_dir"),
        "error": error,
        "params": {p.key: trial.params[p.key] for p in params if p.key in trial.params},
    }


def trials_csv(rows: list[dict[str, Any]], params: list[Param]) -> str:
    """trials.csv: one line per trial; parameters as ``params_<key>`` columns."""
    first, rest = ROW_KEYS[:4], ROW_KEYS[4:]
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, [*first, *(f"params_{p.key}" for p in params), *rest], lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "params"}
        writer.writerow({**flat, **{f"params_{k}": v for k, v in row["params"].items()}})
    return buffer.getvalue()


def write_best_config(
    path: Path, study: optuna.Study, base: Config, params: list[Param], best: FrozenTrial
) -> Path:
    """best.yaml: the base config with the best trial's values, runnable by ``tunelab run``.

    It holds the keys the trial was given (the base config's and the drawn ones, see
    :func:`apply_params`), so the keys it leaves out resolve in ``tunelab run`` as they
    did in the trial (a strategy's model defaults, ``auto``'s choices).
    """
    cfg = apply_params(base, params, FixedTrial(best.params, best.number), source="best trial")
    header = (
        f"# Best trial {best.number} of study '{study.study_name}': validation "
        f"{base.search.metric} {best.value:.4f}.\n"
        "# Written by `tunelab search`: the base config's keys and the trial's values;\n"
        "# keys not here take their defaults, as in the trial. Train it with:\n"
        "#\n#   tunelab run best.yaml\n"
    )
    return write_text(path, header + yaml.safe_dump(cfg.given(), sort_keys=False))


def summarise(
    study: optuna.Study,
    trials: list[FrozenTrial],
    base: Config,
    params: list[Param],
    url: str,
    log: ProcessLog,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """search_summary.json: counts by state, best vs baseline, memory, feature cache."""
    states = Counter(row["state"] for row in rows)
    best = best_trial(study)
    baseline = next((r for r in rows if r["baseline"] and r["state"] == "complete"), None)
    return {
        "study": study.study_name,
        "storage": redact(url),
        "metric": base.search.metric,
        "direction": direction_of(base.search),
        "budget": base.search.trials,
        "trials": {
            "counted": counted_trials(trials),
            "total": len(trials),
            **{s: states.get(s, 0) for s in ("complete", "pruned", "fail", "running", "waiting")},
        },
        "best": _best_dict(best),
        "baseline": {"number": baseline["number"], "value": baseline["value"]}
        if baseline
        else None,
        "best_minus_baseline": best.value - baseline["value"] if best and baseline else None,
        "trial_seconds_total": round(sum(r["duration_s"] or 0 for r in rows), 1),
        "feature_cache": _feature_cache(rows),
        "worker_peak_rss_mb": [r["peak_rss_mb"] for r in rows if r["peak_rss_mb"]],
        "space": {p.key: p.to_dict() for p in params},
        "this_process": log.to_dict(),
    }


def _best_dict(best: FrozenTrial | None) -> dict[str, Any] | None:
    if best is None:
        return None
    return {
        "number": best.number,
        "value": best.value,
        "params": best.params,
        "run_dir": best.user_attrs.get("run_dir"),
    }


def _feature_cache(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How feature-extraction trials used the shared cache, and what it saved.

    Pruned trials count too: a head epoch on cached features takes milliseconds, so a
    head trial's time is the model load and the feature pass (or cache read) either way.
    """

    def seconds(kind: str) -> list[float]:
        return [
            r["duration_s"]
            for r in rows
            if r["features"] == kind and r["state"] in ("complete", "pruned") and r["duration_s"]
        ]

    computed, cached = seconds("computed"), seconds("cached")
    return {
        "trials_computing_features": sum(r["features"] == "computed" for r in rows),
        "trials_reusing_features": sum(r["features"] == "cached" for r in rows),
        "median_seconds_computing": statistics.median(computed) if computed else None,
        "median_seconds_reusing": statistics.median(cached) if cached else None,
    }


def param_importances(study: optuna.Study) -> tuple[dict[str, float] | None, str]:
    """Optuna's parameter importances, or None and why they cannot be computed yet."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None, f"needs at least 2 complete trials (has {len(complete)})"
    try:
        with warnings.catch_warnings():  # "few trials per regime" is why we say "estimate"
            warnings.simplefilter("ignore", UserWarning)
            return optuna.importance.get_param_importances(study), ""
    except (ValueError, RuntimeError, ZeroDivisionError) as err:
        return None, f"not computable yet ({err})"


def _write_report(
    out: Path,
    study: optuna.Study,
    summary: dict,
    rows: list[dict],
    params: list[Param],
    console: Console,
) -> Path:
    from tunelab.report.search_figures import write_search_report

    importances, why = param_importances(study)
    space = [{"key": p.key, "kind": p.kind, "values": list(p.values)} for p in params]
    return write_search_report(out / "search_report.html", summary, rows, space, importances, why)


def print_results(console: Console, rows: list[dict[str, Any]], summary: dict) -> None:
    """The best trials as a table, then counts and the best against the baseline."""
    reverse = summary["direction"] == "maximize"
    complete = sorted(
        (r for r in rows if r["state"] == "complete"), key=lambda r: r["value"], reverse=reverse
    )
    table = Table(
        title=f"best of {len(complete)} complete trials, by validation {summary['metric']}"
    )
    for column in ("trial", summary["metric"], "seconds", "parameters"):
        table.add_column(column, justify="left" if column == "parameters" else "right")
    for row in complete[:TABLE_ROWS]:
        tag = " (baseline)" if row["baseline"] else ""
        table.add_row(
            f"{row['number']}{tag}",
            f"{row['value']:.4f}",
            f"{row['duration_s']:.1f}",
            " ".join(f"{k}={_short(v)}" for k, v in row["params"].items()),
        )
    console.print(table)
    counts = summary["trials"]
    console.print(
        f"{counts['total']} trials: {counts['complete']} complete, {counts['pruned']} "
        f"pruned, {counts['fail']} failed; this process ran "
        f"{summary['this_process']['trials_run']} in "
        f"{summary['this_process']['wall_seconds']:.0f}s"
    )
    best, baseline = summary["best"], summary["baseline"]
    if best and baseline:
        console.print(
            f"best trial {best['number']}: {best['value']:.4f} vs baseline "
            f"{baseline['value']:.4f} ({summary['best_minus_baseline']:+.4f})"
        )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
