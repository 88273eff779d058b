"""Integration: one self-training round on the real MiniLM (feature extraction, short
texts, a pool of 45 chatterbot utterances whose labels check the pseudo-labels)."""

from __future__ import annotations

import pytest

import tunelab

pytestmark = pytest.mark.integration

TOPICS = ("trivia", "emotion", "coding")


def test_one_round_on_minilm_pseudo_labels_beat_chance(tmp_path):
    from tunelab.data.builtin import load_builtin

    frame = load_builtin("chatterbot-topics", "data.train").frame
    frame = frame[frame["label"].isin(TOPICS)].drop_duplicates("text")
    shuffled = frame.sample(frac=1.0, random_state=0).groupby("label", sort=True)
    parts = {"train": (0, 8), "validation": (8, 18), "test": (18, 28), "unlabeled": (28, 43)}
    paths = {}
    for name, (start, stop) in parts.items():
        paths[name] = str(tmp_path / f"{name}.csv")
        shuffled.nth(list(range(start, stop)))[["text", "label"]].to_csv(paths[name], index=False)
    config = {
        "model": {"max_length": 32},
        "data": paths,
        "strategy": {"name": "feature_extraction"},
        "train": {"device": "cpu", "seed": 0},
        "self_training": {"rounds": 1, "per_class_share": 0.5, "min_confidence": 0.0},
    }
    result = tunelab.fine_tune(config, tmp_path / "run")
    record = result.metrics["self_training"]
    added = record["rounds"][1]
    assert record["pool"] == 45 and added["accepted"] > 0
    assert (
        added["checked"] == added["accepted"] and added["agreement"] > 1 / 3
    )  # better than chance
    best = record["rounds"][record["best_round"]]
    assert result.metrics["validation"]["f1_macro"] == pytest.approx(best["val_f1_macro"])
