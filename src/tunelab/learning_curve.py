"""Learning curves: each strategy at several training-set sizes, same split otherwise.

``tunelab compare --train-sizes 8,16,32,64,all`` runs one comparison per size, each on
a seeded subset of the same training split (``data.train_per_class`` examples of each
class, fewer where a class has fewer), validation and test untouched, then the
comparison on all the data. It writes ``learning_curve.json`` in the comparison
directory (per strategy: size -> mean validation and test score of the task's monitored
metric) and a sentence per strategy ("top_k reaches 90% of its full-data macro-F1 with
32 examples per class"); the report plots each strategy's curve.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from tunelab.config import Config
from tunelab.errors import ConfigError
from tunelab.io import write_json

CURVE_FILE = "learning_curve.json"
REACH = 0.9  # the share of the full-data score a size must reach


def parse_train_sizes(text: str) -> list[int | None]:
    """``"8,16,all"`` as ``[8, 16, None]`` (None: all the data), sorted, deduplicated."""
    sizes: set[int | None] = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "all":
            sizes.add(None)
        elif part.isdigit() and int(part) > 0:
            sizes.add(int(part))
        else:
            raise ConfigError(
                f"--train-sizes: '{part}' is not a positive number of examples per class "
                "or 'all'; e.g. --train-sizes 8,16,32,64,all"
            )
    if not sizes:
        raise ConfigError("--train-sizes: give at least one size, e.g. 8,16,32,all")
    return sorted(s for s in sizes if s is not None) + ([None] if None in sizes else [])


def per_class_indices(labels: list[str], per_class: int, seed: int) -> list[int]:
    """Up to ``per_class`` positions of each label, drawn with ``seed``, in split order.

    A smaller size's subset is a prefix of a larger one's (the same permutation per
    class), so a curve adds examples rather than swapping them.
    """
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for label in sorted(set(labels)):
        positions = [i for i, value in enumerate(labels) if value == label]
        chosen += [positions[i] for i in rng.permutation(len(positions))[:per_class]]
    return sorted(chosen)


def train_subset(task: Any, splits: Any, cfg: Config) -> Any:
    """``splits`` with the training split cut to ``data.train_per_class`` (or as is)."""
    per_class = getattr(cfg.data, "train_per_class", None)
    if per_class is None:
        return splits
    train_labels = getattr(task, "train_labels", None)
    if train_labels is None:
        raise ConfigError(f"data.train_per_class: task '{task.name}' has no classes to count")
    indices = per_class_indices(list(train_labels(splits)), per_class, cfg.data.seed)
    return task.subset_train(splits, indices)


def compare_train_sizes(
    base: Config,
    strategies: list[str] | None,
    sizes: list[int | None],
    seeds: int,
    output_dir: str | Path,
    console: Console,
    report: bool = True,
):
    """One comparison per size (``<output>/size-<n>/``), then the full data in
    ``<output>``; returns the full-data :class:`tunelab.comparison.CompareResult`."""
    from tunelab.comparison import compare

    out = Path(output_dir)
    summaries: dict[str, dict] = {}
    for size in (s for s in sizes if s is not None):
        console.rule(f"learning curve: {size} examples per class")
        cfg = base.model_copy(deep=True)
        cfg.data.train_per_class = size
        result = compare(cfg, strategies, seeds, out / f"size-{size}", console, report=False)
        summaries[str(size)] = result.summary
    console.rule("learning curve: all the data")
    full = compare(base, strategies, seeds, out, console, report=False)
    summaries["all"] = full.summary
    curve = learning_curve(summaries)
    write_json(out / CURVE_FILE, curve)
    for sentence in curve["sentences"].values():
        console.print(escape(sentence))
    if report:
        from tunelab.comparison import _write_report

        full.report = _write_report(out, console)
    return full


def learning_curve(summaries: dict[str, dict]) -> dict:
    """The ``learning_curve.json`` content from each size's ``summary.json``."""
    objective = summaries["all"]["objective"] if "all" in summaries else {}
    monitor = objective.get("monitor") or next(iter(summaries.values()))["objective"]["monitor"]
    spec = next((m for m in objective.get("metrics", []) if m["name"] == monitor), {})
    label, mode = spec.get("label", monitor), spec.get("mode", "max")
    curves: dict[str, list[dict]] = {}
    for size, summary in summaries.items():
        for row in summary["strategies"]:
            if f"{monitor}_mean" not in row:
                continue
            curves.setdefault(row["strategy"], []).append(
                {"per_class": None if size == "all" else int(size),
                 "test": row[f"{monitor}_mean"], "validation": row.get(f"val_{monitor}_mean")}
            )  # fmt: skip
    sentences = {
        name: reach_sentence(name, points, label, mode)
        for name, points in curves.items()
        if any(p["per_class"] is None for p in points)
    }
    return {"monitor": monitor, "label": label, "mode": mode, "curves": curves,
            "sentences": sentences}  # fmt: skip


def reach_sentence(strategy: str, points: list[dict], label: str, mode: str = "max") -> str:
    """ "top_k reaches 90% of its full-data macro-F1 with 32 examples per class"."""
    full = next(p["test"] for p in points if p["per_class"] is None)
    sized = sorted((p for p in points if p["per_class"] is not None), key=lambda p: p["per_class"])
    if mode != "max":
        best = min(sized, key=lambda p: p["test"], default=None)
        at = f"{best['per_class']} per class {best['test']:.4f}" if best else "no subsets"
        return f"{strategy}: {label} {full:.4f} with all the data; best subset: {at}"
    for point in sized:
        if point["test"] >= REACH * full:
            return (
                f"{strategy} reaches {REACH:.0%} of its full-data {label} ({full:.4f}) with "
                f"{point['per_class']} examples per class ({point['test']:.4f})"
            )
    largest = f"{sized[-1]['per_class']} examples per class" if sized else "any subset"
    return f"{strategy} needs more than {largest} to reach {REACH:.0%} of its full-data {label}"
