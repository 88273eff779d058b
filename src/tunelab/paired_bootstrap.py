"""Is one run worse than another on validation, or is the difference noise?

Two runs scored on the same few hundred validation examples differ by points of
macro-F1 from which examples happen to be there: with 9 examples in the smallest class,
one of them moves the score by several points. A paired bootstrap (Efron & Tibshirani
1993, ch. 16; the test Koehn 2004 made standard for comparing two systems on one test
set) resamples the examples with replacement, scores both runs on each resample and
counts how often the first is worse. Pairing, the same resample for both, cancels what
the examples themselves make easy or hard, so it sees smaller real differences than two
separate confidence intervals would.
"""

from __future__ import annotations

import numpy as np

from tunelab.objective import Direction, ScoredPass, better

RESAMPLES = 1000


def share_worse(
    first: ScoredPass,
    second: ScoredPass,
    mode: Direction,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> float | None:
    """The share of resamples of the validation examples on which ``first`` scores worse
    than ``second`` (a tie counts half), or None when the two passes cannot be paired:
    different examples, or an objective that cannot rescore a resample
    (:meth:`tunelab.objective.Objective.monitor_on`)."""
    if not _paired(first, second):
        return None
    count = len(first.outputs["targets"])
    rng = np.random.default_rng(seed)
    worse = 0.0
    for _ in range(resamples):
        rows = rng.integers(0, count, size=count)
        a, b = first.monitor_on(rows), second.monitor_on(rows)
        if a is None or b is None:
            return None
        worse += 1.0 if better(mode, b, a) else 0.5 if a == b else 0.0
    return worse / resamples


def _paired(first: ScoredPass, second: ScoredPass) -> bool:
    """Whether both passes scored the same examples in the same order (their targets)."""
    a, b = first.outputs.get("targets"), second.outputs.get("targets")
    return a is not None and b is not None and len(a) > 0 and np.array_equal(a, b)
