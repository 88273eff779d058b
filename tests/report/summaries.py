"""``summary.json`` rows as ``compare`` computes them, for any recorded objective."""

from __future__ import annotations

from typing import Any

import numpy as np


def seed_stats(runs: list[dict[str, Any]], objective: dict[str, Any]) -> dict[str, float]:
    """``<metric>_mean`` / ``_std`` of every test metric, and of the validation monitor,
    as ``compare`` writes them."""
    stats = {}
    for spec in objective["metrics"]:
        values = [r["test"][spec["name"]] for r in runs]
        stats[f"{spec['name']}_mean"], stats[f"{spec['name']}_std"] = _mean_std(values)
    monitor = objective["monitor"]
    values = [r["validation"][monitor] for r in runs]
    stats[f"val_{monitor}_mean"], stats[f"val_{monitor}_std"] = _mean_std(values)
    return stats


def _mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def transfer_gain(rows: list[dict[str, Any]], objective: dict[str, Any]) -> dict[str, Any]:
    """The best pre-trained strategy against scratch on the monitor; positive is better."""
    metric = objective["monitor"]
    mode = next(m["mode"] for m in objective["metrics"] if m["name"] == metric)
    sign = -1.0 if mode == "min" else 1.0
    key = f"{metric}_mean"
    pretrained = [r for r in rows if r["strategy"] != "scratch"]
    best = max(pretrained, key=lambda r: sign * r[key])
    scratch = next((r[key] for r in rows if r["strategy"] == "scratch"), None)
    return {
        "metric": metric,
        "best_strategy": best["strategy"],
        f"best_{metric}": best[key],
        f"scratch_{metric}": scratch,
        "gain": sign * (best[key] - scratch) if scratch is not None else None,
    }
