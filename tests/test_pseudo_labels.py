"""Pseudo-label selection on scripted probabilities: per-class thresholds, caps, agreement."""

from __future__ import annotations

import numpy as np

from tunelab.pseudo_labels import agreement, class_caps, select_pseudo_labels

LABELS = ["common", "rare"]


def _probabilities(confidences: list[float], classes: list[int]) -> np.ndarray:
    """Two-class rows whose top class is ``classes[i]`` with ``confidences[i]``."""
    rows = np.zeros((len(classes), 2))
    for i, (p, c) in enumerate(zip(confidences, classes, strict=True)):
        rows[i, c], rows[i, 1 - c] = p, 1 - p
    return rows


def _pool() -> np.ndarray:
    """90 rows predicted 'common' at 0.99-0.95, then 10 'rare' ones at 0.80-0.62."""
    common = list(np.linspace(0.99, 0.95, 90))
    rare = list(np.linspace(0.80, 0.62, 10))
    return _probabilities(common + rare, [0] * 90 + [1] * 10)


def test_per_class_shares_keep_the_rare_class_a_global_threshold_drowns():
    probabilities = _pool()
    global_threshold = probabilities.max(axis=1) >= 0.9  # one threshold for every class
    assert probabilities[global_threshold].argmax(axis=1).tolist() == [0] * 90

    chosen = select_pseudo_labels(probabilities, LABELS, share=0.2, min_confidence=0.5)
    assert chosen.per_class() == {"common": 18, "rare": 2}
    assert chosen.rows == [*range(18), 90, 91]  # most confident first within a class
    assert chosen.labels == ["common"] * 18 + ["rare"] * 2
    assert round(chosen.thresholds["rare"], 2) == 0.78  # its own, below common's 0.98
    assert round(chosen.thresholds["common"], 4) == round(float(np.linspace(0.99, 0.95, 90)[17]), 4)


def test_min_confidence_is_a_floor_under_every_class_threshold():
    chosen = select_pseudo_labels(_pool(), LABELS, share=0.5, min_confidence=0.75)
    assert chosen.per_class() == {"common": 45, "rare": 3}  # 0.80, 0.78, 0.76 pass
    assert min(chosen.thresholds.values()) >= 0.75


def test_a_class_predicted_once_still_gets_its_share_and_none_is_empty():
    probabilities = _probabilities([0.9, 0.9, 0.7], [0, 0, 1])
    chosen = select_pseudo_labels(probabilities, LABELS, share=0.1, min_confidence=0.0)
    assert chosen.per_class() == {"common": 1, "rare": 1}
    none = select_pseudo_labels(probabilities, LABELS, share=1.0, min_confidence=0.95)
    assert none.rows == [] and none.thresholds == {}


def test_caps_follow_the_labelled_class_shares():
    labelled = ["common"] * 30 + ["rare"] * 10
    caps = class_caps(8, labelled, LABELS)
    assert caps == [6, 2]
    assert class_caps(None, labelled, LABELS) is None
    chosen = select_pseudo_labels(_pool(), LABELS, share=1.0, min_confidence=0.0, caps=caps)
    assert chosen.per_class() == {"common": 6, "rare": 2}
    assert class_caps(3, ["common"] * 99 + ["rare"], LABELS) == [3, 1]  # at least one each


def test_agreement_counts_only_rows_with_a_known_label():
    assert agreement(["a", "b", "a", "b"], ["a", "a", None, "b"]) == (2 / 3, 3)
    assert agreement(["a", "b"], [None, None]) == (None, 0)
