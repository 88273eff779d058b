"""Synthetic run and compare directories, written exactly as docs/run_dir.md specifies.

``make_run_dir`` and ``make_compare_dir`` write every JSON/YAML file of a run directory
with internally consistent numbers (accuracy and per-class scores are computed from the
confusion matrix; trainable params from the layer groups), so report tests can assert on
numbers. Weights (``model/``, ``checkpoints/``) are not written: the report never reads
them.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from tunelab.config import validate_config
from tunelab.report import write_report
from tunelab.tasks.classification import ClassificationObjective

from .summaries import seed_stats, transfer_gain

LABELS = ("food", "money", "health", "history", "sports", "science")
EMBEDDING_PARAMS = 11_720_448
LAYER_PARAMS = 1_774_464
N_LAYERS = 6
HIDDEN = 384
QUALITY = {
    "feature_extraction": 0.64,
    "top_k": 0.80,
    "full": 0.81,
    "gradual_unfreeze": 0.80,
    "discriminative_lr": 0.82,
    "lora": 0.79,
    "scratch": 0.42,
}
SECONDS = {
    "feature_extraction": 9.0,
    "top_k": 21.0,
    "full": 60.0,
    "gradual_unfreeze": 44.0,
    "discriminative_lr": 61.0,
    "lora": 38.0,
    "scratch": 58.0,
}
OPTIONAL_FILES = ("config.yaml", "history.jsonl", "layers.json", "data_summary.json")
OBJECTIVE = ClassificationObjective.describe()


def make_run_dir(
    path: Path,
    strategy: str = "top_k",
    *,
    seed: int = 0,
    labels: Sequence[str] = LABELS,
    epochs: int = 4,
    k: int = 2,
    omit: Iterable[str] = (),
) -> Path:
    """Write a finished run directory for ``strategy`` (``scratch`` = full, random init).

    Args:
        path: the run directory to create.
        strategy: a strategy name, or ``scratch``.
        seed: varies the numbers, as a different training seed would.
        labels: class names; their count sets the head size and confusion matrix.
        epochs: evaluations in ``history.jsonl`` (one per epoch).
        k: ``strategy.k`` for ``top_k``.
        omit: optional files to leave out, e.g. ``("layers.json",)``.

    Returns:
        ``path``.
    """
    rng = np.random.default_rng(seed * 101 + len(strategy))
    path.mkdir(parents=True, exist_ok=True)
    name = "full" if strategy == "scratch" else strategy
    groups = layer_groups(name, len(labels), epochs, k)
    trainable = sum(g["params"] for g in groups if g["state"] != "frozen")
    total = sum(g["params"] for g in groups)
    if name == "lora":
        trainable = 6 * 2 * 8 * (HIDDEN + HIDDEN) * 2 + groups[-1]["params"]
    data = data_summary(labels, rng)
    files: dict[str, Any] = {
        "config.yaml": config_dict(name, strategy != "scratch", epochs, k, seed),
        "layers.json": {
            "strategy": name,
            "groups": groups,
            "trainable_params": trainable,
            "total_params": total,
        },
        "data_summary.json": data,
        "history.jsonl": history_rows(strategy, groups, epochs, trainable, rng),
    }
    test_counts = data["splits"]["test"]["class_counts"]
    files["metrics.json"] = metrics(strategy, labels, test_counts, trainable, total, epochs, rng)
    files["status.json"] = {"state": "finished"}
    skipped = set(omit)
    for filename, content in files.items():
        if filename not in skipped:
            _write(path / filename, content)
    return path


def _write(path: Path, content: Any) -> None:
    if path.suffix == ".yaml":
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in content))
    else:
        path.write_text(json.dumps(content, indent=2))


def config_dict(strategy: str, pretrained: bool, epochs: int, k: int, seed: int) -> dict:
    """The resolved config, built through tunelab's own schema so it stays valid."""
    raw = {
        "model": {"pretrained": pretrained},
        "data": {"train": "builtin:chatterbot-topics"},
        "strategy": {"name": strategy, **({"k": k} if strategy == "top_k" else {})},
        "train": {"epochs": epochs, "seed": seed},
    }
    return validate_config(raw).to_dict()


def layer_groups(strategy: str, n_labels: int, epochs: int, k: int = 2) -> list[dict[str, Any]]:
    """MiniLM-like groups (embeddings, 6 layers, head) with what ``strategy`` does to each."""
    names = ["embeddings", *[f"layer.{i}" for i in range(N_LAYERS)], "head"]
    params = [EMBEDDING_PARAMS, *[LAYER_PARAMS] * N_LAYERS, HIDDEN * n_labels + n_labels]
    groups = []
    for depth, (name, count) in enumerate(zip(names, params, strict=True)):
        from_top = len(names) - 1 - depth
        group = {"name": name, "params": count, "state": "trained", "lr_scale": 1.0}
        group.update(_strategy_effect(strategy, from_top, epochs, k))
        group["lr"] = 0.0 if group["state"] == "frozen" else 5e-5 * group["lr_scale"]
        if from_top == 0:
            group["lr"] = 1e-3
        groups.append(group)
    return groups


def _strategy_effect(strategy: str, from_top: int, epochs: int, k: int) -> dict[str, Any]:
    """State / lr_scale / unfreeze_epoch of the group ``from_top`` groups below the head."""
    if from_top == 0:
        return {"unfreeze_epoch": 0} if strategy == "gradual_unfreeze" else {}
    if strategy == "feature_extraction" or (strategy == "top_k" and from_top > k):
        return {"state": "frozen"}
    if strategy == "lora":
        return {"state": "frozen"} if from_top == N_LAYERS + 1 else {"state": "lora"}
    if strategy == "discriminative_lr":
        return {"lr_scale": round(0.8**from_top, 3)}
    if strategy == "gradual_unfreeze":
        state = "trained" if from_top < epochs else "frozen"
        return {"state": state, "unfreeze_epoch": from_top}
    return {}


def history_rows(
    strategy: str,
    groups: list[dict[str, Any]],
    epochs: int,
    trainable: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """One evaluation per epoch: losses fall, val F1 climbs toward the strategy's quality."""
    quality = QUALITY.get(strategy, 0.75)
    rows = []
    for epoch in range(1, epochs + 1):
        progress = 1 - 0.55**epoch
        phase = sum(1 for g in groups[:-1] if g.get("unfreeze_epoch", 99) <= epoch - 1)
        val_f1 = quality * progress + rng.normal(0, 0.005)
        rows.append(
            {
                "epoch": epoch,
                "step": 40 * epoch,
                "train_loss": round(1.9 * 0.5**epoch + 0.05, 4),
                "train_accuracy": round(min(0.99, val_f1 + 0.08), 4),
                "val_loss": round(_val_loss(strategy, quality, epoch), 4),
                "val_accuracy": round(val_f1 + 0.02, 4),
                "val_f1_macro": round(val_f1, 4),
                "lr": 5e-5 * (1 - epoch / (epochs + 1)),
                "phase": phase if strategy == "gradual_unfreeze" else 0,
                "trainable_params": trainable,
                "seconds": round(SECONDS.get(strategy, 30.0) / epochs * epoch, 2),
            }
        )
    return rows


def _val_loss(strategy: str, quality: float, epoch: int) -> float:
    """Falls toward a floor set by quality; ``full`` overfits (rises after epoch 2)."""
    loss = 1.6 * 0.6**epoch + 1.2 * (1 - quality)
    if strategy == "full" and epoch > 2:
        loss += 0.08 * (epoch - 2)
    return loss


def confusion(counts: Sequence[int], quality: float, rng: np.random.Generator) -> np.ndarray:
    """A confusion matrix with row sums ``counts`` and about ``quality`` on the diagonal."""
    n = len(counts)
    matrix = np.zeros((n, n), dtype=int)
    for i, support in enumerate(counts):
        correct = int(round(support * np.clip(quality + rng.normal(0, 0.08), 0, 1)))
        matrix[i, i] = correct
        wrong = rng.choice([j for j in range(n) if j != i], size=support - correct)
        for j in wrong:
            matrix[i, j] += 1
    return matrix


def metrics(
    strategy: str,
    labels: Sequence[str],
    test_counts: dict[str, int],
    trainable: int,
    total: int,
    epochs: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """``metrics.json`` whose test scores are computed from a synthetic confusion matrix."""
    matrix = confusion([test_counts[label] for label in labels], QUALITY.get(strategy, 0.75), rng)
    test = scores_from_confusion(labels, matrix)
    test.update({"loss": 0.65, "latency_ms_p50": 4.1, "latency_ms_p95": 6.3})
    seconds = SECONDS.get(strategy, 30.0) * (1 + rng.normal(0, 0.03))
    return {
        "validation": {"accuracy": test["accuracy"] + 0.01, "f1_macro": test["f1_macro"] + 0.01},
        "test": test,
        "trainable_params": trainable,
        "total_params": total,
        "train_seconds": round(seconds, 2),
        "seconds_per_epoch": round(seconds / epochs, 2),
        "epochs_run": epochs,
        "steps": 40 * epochs,
        "best_epoch": epochs - 1,
        "peak_memory_mb": 900.0 + trainable / 20_000,
        "strategy": "full" if strategy == "scratch" else strategy,
        "model": "all-MiniLM-L6-v2",
        "pretrained": strategy != "scratch",
        "task": "text_classification",
        "objective": OBJECTIVE,
    }


def scores_from_confusion(labels: Sequence[str], matrix: np.ndarray) -> dict[str, Any]:
    """The ``test`` block: accuracy, macro scores and per-class scores of ``matrix``."""
    diagonal = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    precision = diagonal / np.maximum(matrix.sum(axis=0), 1)
    recall = diagonal / np.maximum(support, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    per_class = {
        label: {
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    return {
        "accuracy": round(float(diagonal.sum() / matrix.sum()), 4),
        "precision_macro": round(float(precision.mean()), 4),
        "recall_macro": round(float(recall.mean()), 4),
        "f1_macro": round(float(f1.mean()), 4),
        "labels": list(labels),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def data_summary(labels: Sequence[str], rng: np.random.Generator) -> dict[str, Any]:
    """``data_summary.json`` with a mildly imbalanced label distribution."""
    weights = rng.dirichlet(np.full(len(labels), 4.0))
    splits = {}
    for name, size in (("train", 1204), ("validation", 150), ("test", 151)):
        counts = np.maximum(np.round(weights * size).astype(int), 3)
        splits[name] = {
            "n": int(counts.sum()),
            "class_counts": {label: int(c) for label, c in zip(labels, counts, strict=True)},
            "length_chars": _lengths(int(counts.sum()), rng),
        }
    return {
        "labels": list(labels),
        "splits": splits,
        "duplicates_across_splits": {"train-validation": 2, "train-test": 1, "validation-test": 0},
        "cleaning": {
            "dropped_missing": 3,
            "dropped_duplicates": 10,
            "dropped_small_classes": ["health care"],
            "capped_classes": {"tech support": 2100},
        },
        "warnings": [f"class '{labels[-1]}' has 4 training examples (< 5): its metrics are noisy"],
    }


def _lengths(n: int, rng: np.random.Generator) -> dict[str, Any]:
    lengths = np.clip(rng.lognormal(3.6, 0.5, size=n), 3, 250)
    counts, edges = np.histogram(lengths, bins=10, range=(0, 250))
    hist = [[int(a), int(b), int(c)] for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)]
    return {
        "min": int(lengths.min()),
        "p50": int(np.median(lengths)),
        "max": int(lengths.max()),
        "hist": hist,
    }


def make_compare_dir(
    path: Path,
    strategies: Sequence[str] = ("feature_extraction", "top_k", "full", "scratch"),
    *,
    seeds: int = 1,
    recommended: str = "top_k",
    labels: Sequence[str] = LABELS,
    omit: Iterable[str] = (),
) -> Path:
    """Write a compare directory: one run per (strategy, seed) and a ``summary.json``."""
    rows = []
    for strategy in strategies:
        run_dirs = [f"runs/{strategy}-seed{seed}" for seed in range(seeds)]
        for seed, run_dir in enumerate(run_dirs):
            make_run_dir(path / run_dir, strategy, seed=seed, labels=labels, omit=omit)
        rows.append(_summary_row(path, strategy, run_dirs))
    first_run = path / rows[0]["run_dirs"][0]
    summary = {
        "strategies": rows,
        "transfer_gain": transfer_gain(rows, OBJECTIVE),
        "flags": [
            {
                "kind": "overfitting",
                "strategy": "full",
                "message": "val loss rose for 2 epochs while train loss kept falling",
                "numbers": {"train_loss": 0.06, "val_loss": 0.59, "epochs_rising": 2},
            },
            {
                "kind": "catastrophic_forgetting",
                "strategy": "full",
                "message": "probe accuracy on the pre-training task fell by 31 points",
                "numbers": {"probe_before": 0.74, "probe_after": 0.43},
            },
        ],
        "recommendation": {"strategy": recommended, "reason": "within 1 pt of full at 35% of time"},
        "data": json.loads((first_run / "data_summary.json").read_text()),
        "objective": OBJECTIVE,
    }
    (path / "summary.json").write_text(json.dumps(summary, indent=2))
    return path


def _summary_row(root: Path, strategy: str, run_dirs: list[str]) -> dict[str, Any]:
    runs = [json.loads((root / d / "metrics.json").read_text()) for d in run_dirs]
    return {
        "strategy": strategy,
        "n_seeds": len(runs),
        **seed_stats(runs, OBJECTIVE),
        "train_seconds_mean": float(np.mean([r["train_seconds"] for r in runs])),
        "trainable_params": runs[0]["trainable_params"],
        "total_params": runs[0]["total_params"],
        "latency_ms_p50": runs[0]["test"]["latency_ms_p50"],
        "peak_memory_mb": runs[0]["peak_memory_mb"],
        "run_dirs": run_dirs,
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A complete top_k run directory."""
    return make_run_dir(tmp_path / "run", "top_k")


@pytest.fixture
def compare_dir(tmp_path: Path) -> Path:
    """A compare directory of four strategies (scratch included), two seeds each."""
    return make_compare_dir(tmp_path / "compare", seeds=2)


@pytest.fixture(scope="session")
def run_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``report.html`` of a complete top_k run, rendered once per session: read, don't edit."""
    return write_report(make_run_dir(tmp_path_factory.mktemp("report") / "run", "top_k"))


@pytest.fixture(scope="session")
def compare_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``report.html`` of the ``compare_dir`` layout, rendered once per session."""
    root = tmp_path_factory.mktemp("report") / "compare"
    return write_report(make_compare_dir(root, seeds=2))


def png_from_data_uri(uri: str) -> Image.Image:
    """Decode a ``data:image/png;base64,...`` URI and check it really is a PNG image."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix), uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    assert image.format == "PNG"
    image.load()
    return image


def assert_nontrivial_png(uri: str, min_side: int = 100) -> Image.Image:
    """The image decodes, is at least ``min_side`` pixels each way and is not one colour."""
    image = png_from_data_uri(uri)
    assert min(image.size) >= min_side, image.size
    pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 5, "image is (nearly) a single colour"
    return image
