"""Diagnostics on constructed inputs: each flag fires exactly when it should."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab import diagnostics as d


def _history(train_acc, val_acc, train_loss, val_loss):
    return [
        {"train_accuracy": a, "val_accuracy": b, "train_loss": c, "val_loss": e}
        for a, b, c, e in zip(train_acc, val_acc, train_loss, val_loss, strict=True)
    ]


def test_overfitting_by_gap():
    flag = d.overfitting_flag("full", _history([0.7, 0.99], [0.7, 0.8], [1.0, 0.1], [1.0, 0.9]))
    assert flag and flag.numbers["gap"] == pytest.approx(0.19)


def test_overfitting_by_rising_val_loss():
    flag = d.overfitting_flag(
        "full", _history([0.8, 0.85, 0.9], [0.8, 0.82, 0.8], [0.6, 0.4, 0.3], [0.5, 0.45, 0.6])
    )
    assert flag and "rose" in flag.message


def test_no_overfitting_when_curves_are_healthy():
    assert (
        d.overfitting_flag("top_k", _history([0.7, 0.8], [0.72, 0.79], [1.0, 0.7], [0.9, 0.75]))
        is None
    )


F1 = d.Target("f1_macro", "max")


def _scores(name, mean, std, metric="f1_macro"):
    return {"strategy": name, f"{metric}_mean": mean, f"{metric}_std": std}


def test_negative_transfer_respects_noise():
    flag = d.negative_transfer_flag(_scores("lora", 0.60, 0.01), _scores("s", 0.62, 0.01), F1)
    assert flag is not None
    assert d.negative_transfer_flag(_scores("full", 0.8, 0.01), _scores("s", 0.6, 0.02), F1) is None
    # scratch 1.5 pt below with 2 pt of seed noise: still a tie, so flagged
    tie = d.negative_transfer_flag(_scores("top_k", 0.7, 0.02), _scores("s", 0.685, 0.02), F1)
    assert tie is not None


def test_negative_transfer_on_a_metric_where_lower_is_better():
    loss = d.Target("loss", "min")
    worse = d.negative_transfer_flag(
        _scores("lora", 2.0, 0, "loss"), _scores("s", 1.5, 0, "loss"), loss
    )
    assert worse is not None and worse.numbers["scratch_loss"] == 1.5
    assert (
        d.negative_transfer_flag(
            _scores("full", 1.0, 0, "loss"), _scores("s", 1.5, 0, "loss"), loss
        )
        is None
    )


def test_cka_is_one_for_rotations_and_low_for_unrelated():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    assert d.linear_cka(x, 3.0 * x @ rotation) == pytest.approx(1.0)
    assert d.linear_cka(x, rng.normal(size=(200, 16))) < 0.3
    numbers = d.drift_numbers(x, rng.normal(size=(200, 16)))  # information, no flag
    assert numbers["cka"] < 0.3 and set(numbers) == {"cka", "mean_cosine"}


def test_forgetting_is_flagged_from_the_old_task_score_not_from_drift():
    score = {"name": "answer retrieval top-1", "before": 0.53, "after": 0.33, "n": 256}
    flag = d.old_task_flag("full", score)
    assert flag.kind == "catastrophic_forgetting" and "0.530 to 0.330" in flag.message
    assert d.old_task_flag("top_k", {**score, "after": 0.50}) is None  # within 5 points


def test_forgetting_flag_on_old_test_set():
    assert d.forgetting_flag("full", 0.90, 0.70).numbers["old_accuracy_after"] == 0.70
    assert d.forgetting_flag("full", 0.90, 0.895) is None


def _row(name, f1, seconds, std=0.0):
    return {
        "strategy": name,
        "val_f1_macro_mean": f1,
        "val_f1_macro_std": std,
        "train_seconds_mean": seconds,
    }


def test_recommendation_prefers_cheaper_within_noise():
    rows = [
        _row("full", 0.800, 100),
        _row("top_k", 0.797, 35),
        _row("feature_extraction", 0.70, 5),
        _row("scratch", 0.9, 1),
    ]
    rec = d.recommend(rows, F1)
    assert rec["strategy"] == "top_k"
    assert rec["reason"] == "within 0.3 pt of full (validation f1_macro) at 35% of the time"


def test_recommendation_of_clear_winner():
    rec = d.recommend([_row("full", 0.85, 100), _row("top_k", 0.80, 35)], F1)
    assert rec == {
        "strategy": "full",
        "reason": "best validation f1_macro (0.850), 5.0 pt above top_k",
        "metric": "f1_macro",
    }


def test_recommendation_on_a_percentage_metric_speaks_in_its_points():
    """SQuAD F1 runs 0-100: a 10.2-point lead is 10.2 pt (not 1020), and a 0.3-point
    gap is a tie at that scale, as 0.003 is for a 0-1 score."""
    squad = d.Target("f1", "max", scale=100.0)

    def row(name, f1, seconds):
        return {"strategy": name, "val_f1_mean": f1, "val_f1_std": 0.0,
                "train_seconds_mean": seconds}  # fmt: skip

    clear = d.recommend([row("disc_lr", 35.7, 240), row("full", 25.5, 990)], squad)
    assert clear["reason"] == "best validation f1 (35.700), 10.2 pt above full"
    tie = d.recommend([row("full", 35.7, 990), row("top_k", 35.4, 300)], squad)
    assert tie["strategy"] == "top_k"
    assert tie["reason"].startswith("within 0.3 pt of full")


def test_recommendation_on_a_loss_speaks_in_loss_units():
    loss = d.Target("loss", "min")
    rows = [
        {
            "strategy": "full",
            "val_loss_mean": 1.398,
            "val_loss_std": 0.0,
            "train_seconds_mean": 160,
        },
        {
            "strategy": "lora",
            "val_loss_mean": 1.664,
            "val_loss_std": 0.0,
            "train_seconds_mean": 167,
        },
    ]
    assert d.recommend(rows, loss)["reason"] == "best validation loss (1.398), 0.266 below lora"


def test_recommendation_never_picks_a_flagged_strategy():
    rows = [_row("full", 0.85, 100), _row("top_k", 0.80, 35), _row("lora", 0.84, 60)]
    rec = d.recommend(rows, F1, {"full": "negative_transfer"})
    assert rec["strategy"] == "lora"
    assert rec["reason"].endswith("; flagged, so not considered: full (negative_transfer)")
    assert d.recommend(rows, F1, {r["strategy"]: "forgetting" for r in rows}) is None
