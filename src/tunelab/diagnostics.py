"""Transfer-learning diagnostics, each a flag with the numbers behind it.

Pure functions over histories, metric tables and embeddings, so they are tested with
constructed inputs: overfitting, negative transfer, representation drift (information),
catastrophic forgetting measured on the pretrained model's own task, and the strategy
recommendation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

OVERFIT_GAP = 0.15  # train minus validation score (accuracy for classification)
VAL_LOSS_RISE = 0.10  # val loss 10% above its best while train loss keeps falling
# The pretrained model's own task (what it could do before) lost this much of its score
# (e.g. 0.05 = five points of answer-retrieval accuracy): catastrophic forgetting.
OLD_TASK_DROP = 0.05
NOISE_FLOOR = 0.01  # one point of F1: below this, two strategies are a tie


@dataclass(frozen=True)
class Target:
    """The metric runs are ranked by, and its direction."""

    metric: str
    mode: str = "max"
    scale: float = 1.0  # a perfect score (MetricSpec.scale): gaps print as points of it

    @property
    def noise_floor(self) -> float:
        """:data:`NOISE_FLOOR` in this metric's units."""
        return NOISE_FLOOR * self.scale

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is: ``sign * value`` ranks upward."""
        return 1 if self.mode == "max" else -1


@dataclass
class Flag:
    """One diagnostic finding about one strategy."""

    kind: str
    strategy: str
    message: str
    numbers: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)


def overfitting_flag(
    strategy: str, history: list[dict], train_metric: str | None = "accuracy"
) -> Flag | None:
    """Train/val gap of ``train_metric`` (a score, higher is better), or val loss rising
    while train loss falls."""
    if len(history) < 2:
        return None
    last = history[-1]
    best_val_loss = min(row["val_loss"] for row in history)
    rising = last["val_loss"] > best_val_loss * (1 + VAL_LOSS_RISE)
    falling = history[-1]["train_loss"] < history[-2]["train_loss"]
    numbers = {"val_loss_last": last["val_loss"], "val_loss_best": best_val_loss}
    train, val = (last.get(f"{side}_{train_metric}") for side in ("train", "val"))
    if train_metric and train is not None and val is not None:
        gap = train - val
        numbers.update({f"train_{train_metric}": train, f"val_{train_metric}": val, "gap": gap})
        if gap > OVERFIT_GAP:
            return Flag(
                "overfitting",
                strategy,
                f"train {train_metric} {train:.3f} vs "
                f"validation {val:.3f} (gap {gap:.3f} > {OVERFIT_GAP})",
                numbers,
            )
    if rising and falling:
        return Flag(
            "overfitting",
            strategy,
            f"validation loss rose to {last['val_loss']:.3f} "
            f"from its best {best_val_loss:.3f} while training loss kept falling",
            numbers,
        )
    return None


def negative_transfer_flag(row: dict, scratch: dict, target: Target) -> Flag | None:
    """Training from scratch matched or beat this pretrained strategy beyond seed noise.

    ``row`` and ``scratch`` are comparison rows (``<metric>_mean`` / ``_std``).
    """
    metric = target.metric
    mean, scratch_mean = row[f"{metric}_mean"], scratch[f"{metric}_mean"]
    noise = max(row[f"{metric}_std"], scratch[f"{metric}_std"], target.noise_floor)
    if target.sign * (scratch_mean - mean) >= -noise:
        return Flag(
            "negative_transfer",
            row["strategy"],
            f"from scratch reaches {metric} {scratch_mean:.3f} vs {mean:.3f} with pretrained "
            f"weights (noise {noise:.3f}): the pretrained features do not help here",
            {metric: mean, f"scratch_{metric}": scratch_mean, "noise": noise},
        )
    return None


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment of two representations of the same examples.

    1.0 means the same geometry up to rotation and scale; values well below 1 mean
    fine-tuning rewrote the backbone's representation (Kornblith et al., 2019).
    """
    x = x - x.mean(0, keepdims=True)
    y = y - y.mean(0, keepdims=True)
    cross = np.linalg.norm(y.T @ x, "fro") ** 2
    norm = np.linalg.norm(x.T @ x, "fro") * np.linalg.norm(y.T @ y, "fro")
    return float(cross / norm) if norm > 0 else 1.0


def mean_cosine(x: np.ndarray, y: np.ndarray) -> float:
    """Mean cosine similarity between matching rows of ``x`` and ``y``."""
    num = (x * y).sum(1)
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
    return float(np.mean(num / np.maximum(den, 1e-12)))


def drift_numbers(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """How far fine-tuning moved the backbone's embeddings of a reference set.

    Information, never a flag: moving the representation is what fine-tuning is for.
    Forgetting is a measured loss on the old task (:func:`old_task_flag`).
    """
    return {"cka": linear_cka(before, after), "mean_cosine": mean_cosine(before, after)}


def old_task_flag(strategy: str, score: dict) -> Flag | None:
    """The pretrained model's own task scored worse after fine-tuning.

    ``score``: ``{"name", "before", "after", "n"}`` from the task's ``old_task_score``
    (higher is better), e.g. answer retrieval of a sentence encoder or ImageNet
    top-1 agreement of a CNN.
    """
    drop = score["before"] - score["after"]
    if drop <= OLD_TASK_DROP:
        return None
    return Flag(
        "catastrophic_forgetting",
        strategy,
        f"the pretrained model's own task got worse: {score['name']} fell from "
        f"{score['before']:.3f} to {score['after']:.3f} on {score['n']} reference examples",
        dict(score),
    )


def forgetting_flag(strategy: str, old_before: float, old_after: float) -> Flag | None:
    """A continual update lost accuracy on the old test set."""
    drop = old_before - old_after
    if drop > NOISE_FLOOR * 2:
        return Flag(
            "catastrophic_forgetting",
            strategy,
            f"old test accuracy fell from {old_before:.3f} to {old_after:.3f} after the update",
            {"old_accuracy_before": old_before, "old_accuracy_after": old_after},
        )
    return None


def recommend(
    rows: list[dict], target: Target, flagged: dict[str, str] | None = None
) -> dict | None:
    """The cheapest pretrained strategy within seed noise of the best validation score,
    among those the report does not flag.

    Rows carry ``strategy``, ``val_<metric>_mean``, ``val_<metric>_std`` and
    ``train_seconds_mean``. Validation only: choosing by test scores would make the
    test set part of model selection and its numbers optimistic. ``flagged`` maps a
    strategy to the kind of the report's flag on it (negative transfer, forgetting,
    overfitting): the report never recommends what it warns against.
    """
    flagged = flagged or {}
    candidates = [r for r in rows if r["strategy"] not in ("scratch", *flagged)]
    if not candidates:
        return None
    key, sign = f"val_{target.metric}_mean", target.sign
    best = max(candidates, key=lambda r: sign * r[key])
    tolerance = max(best.get(f"val_{target.metric}_std", 0.0), target.noise_floor / 2)
    close = [r for r in candidates if sign * (best[key] - r[key]) <= tolerance]
    choice = min(close, key=lambda r: r["train_seconds_mean"])
    if choice is best:
        reason = f"best validation {target.metric} ({best[key]:.3f})"
        if len(candidates) > 1:
            runner = max((r for r in candidates if r is not best), key=lambda r: sign * r[key])
            gap = _gap(target, best[key] - runner[key])
            reason += f", {gap} {'above' if sign > 0 else 'below'} {runner['strategy']}"
    else:
        share = choice["train_seconds_mean"] / max(best["train_seconds_mean"], 1e-9)
        reason = (
            f"within {_gap(target, best[key] - choice[key])} of {best['strategy']} "
            f"(validation {target.metric}) at {100 * share:.0f}% of the time"
        )
    excluded = [f"{name} ({kind})" for name, kind in flagged.items() if name != "scratch"]
    if excluded:
        reason += f"; flagged, so not considered: {', '.join(excluded)}"
    return {"strategy": choice["strategy"], "reason": reason, "metric": target.metric}


def _gap(target: Target, difference: float) -> str:
    """A score difference as users read it: points of a perfect score for a score that
    rises (accuracy, F1, SQuAD EM), the plain number for others (a loss)."""
    if target.mode == "max":
        return f"{100 * abs(difference) / target.scale:.1f} pt"
    return f"{abs(difference):.3f}"
