"""compare's console table and summary.csv from a summary written by hand."""

from __future__ import annotations

import csv
import io

from rich.console import Console

from tunelab.compare_table import print_summary, summary_csv

OBJECTIVE = {
    "monitor": "f1_macro",
    "metrics": [
        {"name": "f1_macro", "label": "macro-F1", "mode": "max"},
        {"name": "accuracy", "label": "accuracy", "mode": "max"},
    ],
    "headline": ["f1_macro"],
}


def _row(name: str, f1: float, seeds: int, **extra) -> dict:
    return {
        "strategy": name,
        "n_seeds": seeds,
        "f1_macro_mean": f1,
        "f1_macro_std": 0.02,
        "train_seconds_mean": 3.0,
        "seconds_per_epoch_mean": 1.0,
        "trainable_params": 1234,
        "latency_ms_p50": float("nan"),
        "peak_memory_mb": 9.0,
        "run_dirs": [f"runs/{name}-seed0"],
        **extra,
    }


SUMMARY = {
    "objective": OBJECTIVE,
    "strategies": [_row("top_k", 0.81, 2, cka=0.9), _row("scratch", 0.5, 1)],
    "transfer_gain": {
        "metric": "f1_macro",
        "best_strategy": "top_k",
        "best_f1_macro": 0.81,
        "scratch_f1_macro": 0.5,
        "gain": 0.31,
    },
    "flags": [{"kind": "overfitting", "strategy": "scratch", "message": "val loss rose"}],
    "recommendation": {"strategy": "top_k", "reason": "best macro-F1"},
}


def test_the_table_shows_the_headline_spread_and_conclusions():
    console = Console(record=True, width=200)
    print_summary(console, SUMMARY)
    text = console.export_text()
    assert "0.810 ± 0.020" in text and "0.500 ± " not in text  # one seed: no spread
    assert "top_k *" in text and "CKA" in text and "0.90" in text
    assert "accuracy" not in text  # only the headline metric has a column
    assert "transfer gain: top_k macro-F1 0.810 vs scratch 0.500 = +0.310" in text
    assert "flag overfitting · scratch: val loss rose" in text
    assert "recommendation: top_k — best macro-F1" in text


def test_summary_csv_has_one_row_per_strategy_and_no_run_dirs():
    rows = list(csv.DictReader(io.StringIO(summary_csv(SUMMARY["strategies"]))))
    assert [r["strategy"] for r in rows] == ["top_k", "scratch"]
    assert "run_dirs" not in rows[0] and rows[0]["cka"] == "0.9"
