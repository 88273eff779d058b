"""Run and compare directories of a language-model-like task: no classes, lower is better.

The objective is recorded as a causal LM's would be (loss and perplexity, both ``min``,
monitoring the loss), so report tests can check that nothing of classification leaks
into a page whose task has no labels, accuracy or confusion matrix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .conftest import _lengths, _write, layer_groups
from .summaries import seed_stats, transfer_gain

LM_OBJECTIVE = {
    "monitor": "loss",
    "train_metric": None,
    "metrics": [
        {"name": "loss", "label": "loss", "mode": "min", "short": "loss"},
        {"name": "perplexity", "label": "perplexity", "mode": "min", "short": "ppl"},
    ],
}
# Validation loss per epoch: lowest at epoch 3, then rising (the kept checkpoint is 3).
VAL_LOSSES = (2.9, 2.45, 2.2, 2.31)
# Test loss per strategy: full fits best, scratch worst.
TEST_LOSS = {"lora": 2.25, "full": 2.05, "top_k": 2.4, "scratch": 4.1}


def make_lm_run_dir(path: Path, strategy: str = "lora", *, seed: int = 0) -> Path:
    """Write a finished run of the LM-like task; its losses shift a little with ``seed``."""
    rng = np.random.default_rng(seed)
    path.mkdir(parents=True, exist_ok=True)
    shift = TEST_LOSS[strategy] - TEST_LOSS["lora"] + float(rng.normal(0, 0.01))
    groups = layer_groups("full" if strategy == "scratch" else strategy, 2, len(VAL_LOSSES))
    trainable = sum(g["params"] for g in groups if g["state"] != "frozen")
    sizes = {"trainable_params": trainable, "total_params": sum(g["params"] for g in groups)}
    files: dict[str, Any] = {
        "config.yaml": _lm_config(strategy, seed),
        "history.jsonl": [_history_row(i, loss + shift) for i, loss in enumerate(VAL_LOSSES)],
        "layers.json": {"strategy": strategy, "groups": groups, **sizes},
        "data_summary.json": _lm_data(rng),
        "metrics.json": _lm_metrics(strategy, TEST_LOSS["lora"] + shift, sizes),
    }
    for filename, content in files.items():
        _write(path / filename, content)
    return path


def _lm_scores(loss: float) -> dict[str, float]:
    return {"loss": round(loss, 4), "perplexity": round(math.exp(loss), 4)}


def _history_row(index: int, val_loss: float) -> dict[str, Any]:
    return {
        "epoch": index + 1,
        "step": 50 * (index + 1),
        "train_loss": round(3.2 * 0.7**index, 4),
        **{f"val_{k}": v for k, v in _lm_scores(val_loss).items()},
        "lr": 2e-4,
        "phase": 0,
    }


def _lm_metrics(strategy: str, test_loss: float, sizes: dict[str, int]) -> dict[str, Any]:
    best = min(range(len(VAL_LOSSES)), key=VAL_LOSSES.__getitem__)
    return {
        "validation": _lm_scores(VAL_LOSSES[best] + test_loss - TEST_LOSS["lora"]),
        "test": {**_lm_scores(test_loss), "latency_ms_p50": 31.0, "latency_ms_p95": 44.5},
        **sizes,
        "train_seconds": 140.0,
        "seconds_per_epoch": 35.0,
        "epochs_run": len(VAL_LOSSES),
        "steps": 50 * len(VAL_LOSSES),
        "best_epoch": best + 1,
        "peak_memory_mb": 5200.0,
        "strategy": "full" if strategy == "scratch" else strategy,
        "model": "tiny-chat-lm",
        "pretrained": strategy != "scratch",
        "task": "causal_lm",
        "objective": LM_OBJECTIVE,
    }


def _lm_config(strategy: str, seed: int) -> dict[str, Any]:
    """A config as an LM task would resolve it (no head, no pooling, no labels)."""
    name = "full" if strategy == "scratch" else strategy
    return {
        "task": "causal_lm",
        "model": {"name": "tiny-chat-lm", "pretrained": strategy != "scratch", "max_length": 512},
        "data": {"train": "builtin:tiny-chat"},
        "strategy": {"name": name},
        "train": {
            "epochs": len(VAL_LOSSES),
            "seed": seed,
            "optimizer": "adamw",
            "lr": 2e-4,
            "head_lr": 2e-4,
            "batch_size": 8,
            "early_stopping": {"enabled": True, "metric": "loss", "patience": 2},
        },
    }


def _lm_data(rng: np.random.Generator) -> dict[str, Any]:
    """Sizes and prompt lengths per split; no labels, so no class counts."""
    sizes = {"train": 800, "validation": 100, "test": 100}
    splits = {name: {"n": n, "length_chars": _lengths(n, rng)} for name, n in sizes.items()}
    return {"splits": splits, "cleaning": {"dropped_duplicates": 4}, "warnings": []}


def make_lm_compare_dir(
    path: Path, strategies: Sequence[str] = ("lora", "full", "scratch"), *, seeds: int = 2
) -> Path:
    """A compare directory of the LM-like task, ``summary.json`` as ``compare`` writes it."""
    rows = []
    for strategy in strategies:
        run_dirs = [f"runs/{strategy}-seed{seed}" for seed in range(seeds)]
        for seed, run_dir in enumerate(run_dirs):
            make_lm_run_dir(path / run_dir, strategy, seed=seed)
        runs = [json.loads((path / d / "metrics.json").read_text()) for d in run_dirs]
        rows.append(
            {
                "strategy": strategy,
                "n_seeds": seeds,
                **seed_stats(runs, LM_OBJECTIVE),
                "train_seconds_mean": runs[0]["train_seconds"],
                "trainable_params": runs[0]["trainable_params"],
                "total_params": runs[0]["total_params"],
                "latency_ms_p50": runs[0]["test"]["latency_ms_p50"],
                "peak_memory_mb": runs[0]["peak_memory_mb"],
                "run_dirs": run_dirs,
            }
        )
    summary = {
        "strategies": rows,
        "transfer_gain": transfer_gain(rows, LM_OBJECTIVE),
        "flags": [],
        "recommendation": {"strategy": "lora", "reason": "close to full at a fraction"},
        "objective": LM_OBJECTIVE,
    }
    (path / "summary.json").write_text(json.dumps(summary, indent=2))
    return path
