"""The rows of a comparison's summary: one per strategy, from its runs' ``metrics.json``.

A row holds every test metric as ``<metric>_mean`` / ``_std`` over seeds, the monitored
validation metric, cost and size, so the summary table, ``summary.csv``, the report and
the recommendation all read the same numbers. Scores recorded once rather than trained
per seed (the untouched base model, a task's reference models) get rows of the same
shape with a spread of zero.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BASE = "base"  # the untouched pretrained model, for tasks that can score it (a causal LM)


def all_metrics(objective: dict) -> list[dict]:
    """Every metric a run's test section holds: per-evaluation ones, then final ones."""
    return [*objective["metrics"], *objective.get("final_metrics", [])]


def metric_spec(objective: dict, name: str) -> dict:
    """Metric ``name``'s spec as the run directory recorded it (``Objective.describe``)."""
    return next(m for m in objective["metrics"] if m["name"] == name)


def recorded_objective(run_dirs: dict[str, list[Path]]) -> dict:
    """The metrics description the runs recorded (all runs of a comparison share it)."""
    return _first_run_metrics(run_dirs)["objective"]


def strategy_row(name: str, dirs: list[Path], out: Path, objective: dict) -> dict:
    """Mean and std over seeds of every test metric (``<metric>_mean``/``_std``), the
    monitored validation metric (``val_<monitor>_mean``), cost and size."""
    metrics = [json.loads((d / "metrics.json").read_text()) for d in dirs]

    def stat(key: str, section: str | None = "test") -> tuple[float, float]:
        values = np.array([(m[section] if section else m)[key] for m in metrics], dtype=float)
        return float(values.mean()), float(values.std())

    scores: dict[str, float] = {}
    for spec in all_metrics(objective):
        scores[f"{spec['name']}_mean"], scores[f"{spec['name']}_std"] = stat(spec["name"])
    monitor = objective["monitor"]
    scores[f"val_{monitor}_mean"], scores[f"val_{monitor}_std"] = stat(monitor, "validation")
    return {
        "strategy": name,
        "n_seeds": len(dirs),
        **scores,
        "train_seconds_mean": stat("train_seconds", None)[0],
        "seconds_per_epoch_mean": stat("seconds_per_epoch", None)[0],
        "trainable_params": metrics[0]["trainable_params"],
        "total_params": metrics[0]["total_params"],
        "latency_ms_p50": stat("latency_ms_p50")[0],
        "peak_memory_mb": stat("peak_memory_mb", None)[0],
        **_forgetting(metrics),
        "run_dirs": [str(d.relative_to(out)) for d in dirs],
    }


def _forgetting(metrics: list[dict]) -> dict[str, float]:
    """Mean rise of reference-text perplexity where the runs measured it (else nothing)."""
    rises = [m["forgetting"]["rise"] for m in metrics if m.get("forgetting")]
    return {"reference_ppl_rise": float(np.mean(rises))} if rises else {}


def baseline_row(run_dirs: dict[str, list[Path]], objective: dict) -> dict | None:
    """The untouched pretrained model's scores, as every run measured them (the same)."""
    metrics = _first_run_metrics(run_dirs)
    baseline = metrics.get("baseline")
    if not baseline:
        return None
    row = _recorded_row(BASE, objective, baseline["test"], baseline["validation"])
    row.update(
        train_seconds_mean=0.0,
        seconds_per_epoch_mean=0.0,
        trainable_params=0,
        total_params=metrics["total_params"],
        latency_ms_p50=baseline["test"].get("latency_ms_p50", float("nan")),
        peak_memory_mb=float("nan"),
        run_dirs=[],
    )
    return row


def reference_rows(run_dirs: dict[str, list[Path]], objective: dict) -> list[dict]:
    """One row per reference model a task fitted in its runs besides the network (e.g.
    a classical baseline): ``metrics.json`` ``baselines``, name -> ``{"test",
    "validation", "fit_seconds"}``, the same in every run; left out of the
    recommendation and transfer gain, which compare strategies."""
    recorded = _first_run_metrics(run_dirs).get("baselines") or {}
    rows = []
    for name, result in recorded.items():
        if "test" not in result:
            continue  # {"skipped": reason}: the library was missing or the fit failed
        row = _recorded_row(name, objective, result["test"], result.get("validation", {}))
        row.update(
            train_seconds_mean=result.get("fit_seconds", float("nan")),
            seconds_per_epoch_mean=float("nan"),
            trainable_params=0,
            total_params=0,
            latency_ms_p50=float("nan"),
            peak_memory_mb=float("nan"),
            run_dirs=[],
        )
        rows.append(row)
    return rows


def _recorded_row(name: str, objective: dict, test: dict, validation: dict) -> dict:
    """The scores of a row measured once (one "seed", spread zero); a metric the
    recording lacks is NaN."""
    row: dict = {"strategy": name, "n_seeds": 1}
    for spec in all_metrics(objective):
        row[f"{spec['name']}_mean"] = test.get(spec["name"], float("nan"))
        row[f"{spec['name']}_std"] = 0.0
    monitor = objective["monitor"]
    row[f"val_{monitor}_mean"] = validation.get(monitor, float("nan"))
    row[f"val_{monitor}_std"] = 0.0
    return row


def _first_run_metrics(run_dirs: dict[str, list[Path]]) -> dict:
    """``metrics.json`` of the comparison's first run: what every run records alike."""
    first = next(iter(run_dirs.values()))[0]
    return json.loads((first / "metrics.json").read_text())
