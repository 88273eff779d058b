"""Which unlabelled examples a self-training round accepts, and how right they were.

Pure functions over a matrix of class probabilities, so they are tested without a
model. The thresholds are per class, as in class-balanced self-training (Zou et al.,
"Unsupervised Domain Adaptation for Semantic Segmentation via Class-Balanced
Self-Training", ECCV 2018): each predicted class accepts its own most confident share.
One global threshold (scikit-learn's ``SelfTrainingClassifier(threshold=0.75)``) lets
the classes the model is surest about take every slot, and a rare class, predicted
with lower confidence, gets no pseudo-labels at all: the imbalance grows every round.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Selection:
    """The pool rows a round accepts, with their pseudo-labels.

    Attributes:
        rows: positions in the probability matrix, most confident first within a class,
            classes in label order.
        labels: the pseudo-label of each row (its most probable class).
        thresholds: per class that accepted any, the confidence of its least confident
            accepted row (the class's effective threshold this round).
    """

    rows: list[int]
    labels: list[str]
    thresholds: dict[str, float]

    def per_class(self) -> dict[str, int]:
        """How many rows each class accepted (classes with none left out)."""
        counts: dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return counts


def select_pseudo_labels(
    probabilities: np.ndarray,
    labels: Sequence[str],
    share: float,
    min_confidence: float,
    caps: Sequence[int] | None = None,
) -> Selection:
    """Per predicted class, its most confident ``share`` of the rows predicted as it
    (at least one), at most ``caps[c]`` of them, none below ``min_confidence``.

    Args:
        probabilities: ``[rows, classes]``, each row summing to one.
        labels: the class names, in column order.
        share: the fraction of each class's predicted rows to accept, in (0, 1].
        min_confidence: a floor on the accepted rows' top probability.
        caps: per class, the most rows it may accept (None: no cap).
    """
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    rows: list[int] = []
    names: list[str] = []
    thresholds: dict[str, float] = {}
    for c, label in enumerate(labels):
        members = np.flatnonzero(predicted == c)
        ranked = members[np.argsort(-confidence[members], kind="stable")]
        count = min(math.ceil(share * len(ranked)), caps[c] if caps is not None else len(ranked))
        chosen = [int(r) for r in ranked[:count] if confidence[r] >= min_confidence]
        if chosen:
            rows += chosen
            names += [label] * len(chosen)
            thresholds[label] = float(confidence[chosen[-1]])
    return Selection(rows, names, thresholds)


def class_caps(
    limit: int | None, labelled: Sequence[str], labels: Sequence[str]
) -> list[int] | None:
    """``limit`` split over the classes in proportion to their shares of the labelled
    examples (at least one each): the labelled set is the only class prior we have."""
    if limit is None:
        return None
    counts = np.array([sum(1 for v in labelled if v == label) for label in labels], dtype=float)
    shares = counts / max(counts.sum(), 1.0)
    return [max(1, int(round(limit * s))) for s in shares]


def agreement(pseudo: Sequence[str], truth: Sequence[str | None]) -> tuple[float | None, int]:
    """The share of pseudo-labels equal to the true label, over the rows whose true
    label is known, and how many rows that is (``(None, 0)`` when none is)."""
    known = [(p, t) for p, t in zip(pseudo, truth, strict=True) if t is not None]
    if not known:
        return None, 0
    return sum(p == t for p, t in known) / len(known), len(known)
