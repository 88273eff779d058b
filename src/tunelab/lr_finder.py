"""``train.lr: auto``: a learning-rate range test whose pick can be trusted.

Smith's range test trains a few dozen steps while the learning rate grows
exponentially and reads a rate off the loss curve. The published finders are reported
unreliable, for reasons this module addresses one by one:

* a raw per-batch loss is noise; its numerical gradient picks spikes (pytorch-lr-finder
  #106). The pick here is made on a *centred* moving average, which does not lag the way
  an exponential average does (an EMA's lag moves the steepest point towards larger,
  riskier rates);
* Lightning's ``np.gradient(loss)`` ignored that the rates are log-spaced
  (Lightning #14248): slopes here are taken against ``log10(lr)``;
* NaN / inf losses shifted the picked index (fastai #3476, Lightning's TODO): the test
  stops at the first non-finite loss and only the finite prefix is read;
* the pick must come from the descent before divergence: only points up to the smoothed
  minimum are candidates, and the test stops once the (bias-corrected EMA) loss exceeds
  4x its minimum, as fastai does;
* a flat or noisy curve has no steepest point worth trusting: when the smoothed loss
  drops by less than :data:`MIN_DROP` before its minimum, the configured default is kept
  and the decision says so.

The range test trains the backbone groups' learning rate (``train.lr``; the head keeps
``train.head_lr``) on copies of nothing: it snapshots the trainable weights, buffers and
RNG state and restores them afterwards, so the run starts from the same model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

START_LR, END_LR, STEPS = 1e-6, 1e-2, 40  # 4 decades, 10 steps a decade
DIVERGENCE = 4.0  # stop once the smoothed loss exceeds 4x its minimum (fastai)
EMA_BETA = 0.8
MIN_DROP = 0.05  # relative drop of the smoothed loss needed to trust the curve
FALLBACK_LR = 5e-5  # TrainConfig's numeric default


@dataclass
class RangeTest:
    """What one range test recorded: a rate and a raw training loss per step."""

    lrs: list[float]
    losses: list[float]
    stop: str  # "end", "diverged" or "nonfinite"


@dataclass
class Suggestion:
    """The picked rate (None: curve not trusted) and where it was read."""

    lr: float | None
    reason: str
    smoothed: list[float]
    steepest_index: int | None = None
    min_index: int | None = None


def range_lrs(start: float = START_LR, end: float = END_LR, steps: int = STEPS) -> list[float]:
    """Exponentially spaced rates from ``start`` to ``end``."""
    return np.geomspace(start, end, steps).tolist()


def run_range_test(
    step: Callable[[float], float], lrs: list[float], divergence: float = DIVERGENCE
) -> RangeTest:
    """Call ``step(lr)`` (one training step, returning its loss) for each rate in turn,
    stopping at a non-finite loss or once the EMA loss passes ``divergence`` x its min."""
    losses: list[float] = []
    average, best = 0.0, math.inf
    for i, lr in enumerate(lrs):
        loss = float(step(lr))
        if not math.isfinite(loss):
            return RangeTest(lrs[:i], losses, "nonfinite")
        losses.append(loss)
        average = EMA_BETA * average + (1 - EMA_BETA) * loss
        smoothed = average / (1 - EMA_BETA ** (i + 1))
        best = min(best, smoothed)
        if smoothed > divergence * best:
            return RangeTest(lrs[: i + 1], losses, "diverged")
    return RangeTest(list(lrs), losses, "end")


def centred_average(values: list[float], window: int) -> np.ndarray:
    """Moving average over ``window`` points centred on each (shrunk at the edges)."""
    half = window // 2
    data = np.asarray(values, dtype=float)
    return np.array(
        [data[max(0, i - half) : i + half + 1].mean() for i in range(len(data))], dtype=float
    )


def suggest_lr(lrs: list[float], losses: list[float]) -> Suggestion:
    """The rate of steepest descent of the smoothed loss, before its minimum.

    Returns a :class:`Suggestion` whose ``lr`` is None when the curve is too short or
    too flat to read (the caller keeps its default).
    """
    if len(losses) < 8:
        return Suggestion(None, f"only {len(losses)} steps before the loss diverged", [])
    window = max(5, len(losses) // 8) | 1
    smoothed = centred_average(losses, window)
    # read only up to the divergence: the first point where the loss, having fallen, is
    # back above its start (whatever a blown-up model does afterwards is no descent)
    fell = np.minimum.accumulate(smoothed) < smoothed[0] * (1 - MIN_DROP)
    above = np.nonzero(fell & (smoothed > smoothed[0]))[0]
    end = int(above[0]) if len(above) else len(smoothed)
    low = int(np.argmin(smoothed[:end]))
    drop = (smoothed[0] - smoothed[low]) / max(abs(smoothed[0]), 1e-12)
    if drop < MIN_DROP:
        why = f"the smoothed loss fell {drop:.1%} (< {MIN_DROP:.0%}): no clear descent"
        return Suggestion(None, why, smoothed.tolist(), min_index=low)
    slope = np.gradient(smoothed, np.log10(lrs[: len(smoothed)]))
    first = min(window // 2, low)  # edge points average fewer losses
    steepest = first + int(np.argmin(slope[first : low + 1]))
    reason = (
        f"steepest descent of the smoothed loss at {lrs[steepest]:.2g}, "
        f"minimum at {lrs[low]:.2g} ({drop:.0%} below the start)"
    )
    return Suggestion(lrs[steepest], reason, smoothed.tolist(), steepest, low)


def lr_range_test(trainer_parts: TrainParts, lrs: list[float] | None = None) -> RangeTest:
    """Run the range test on a live model and restore the model afterwards."""
    parts = trainer_parts
    snapshot = {k: v.detach().clone() for k, v in parts.model.state_dict().items()}
    rng = torch.get_rng_state()
    try:
        return run_range_test(parts.step_function(), lrs or range_lrs())
    finally:
        parts.model.load_state_dict(snapshot)
        torch.set_rng_state(rng)


@dataclass
class TrainParts:
    """What a range-test step needs from the run: the model with its groups and plans,
    the training settings (with a numeric ``lr``), the training batches, the objective
    (the device follows ``cfg.device``)."""

    model: torch.nn.Module
    groups: list
    plans: list
    cfg: object
    train_data: object
    objective: object

    @property
    def device(self) -> torch.device:
        """Where the trainer will train (CUDA when asked for or ``auto`` and present)."""
        wants_cuda = self.cfg.device in ("auto", "cuda") and torch.cuda.is_available()
        return torch.device("cuda" if wants_cuda else "cpu")

    def trains_backbone(self) -> bool:
        """Whether any group besides the head trains (else ``train.lr`` sets nothing)."""
        return any(plan.ever_trains for plan in self.plans[:-1])

    def step_function(self) -> Callable[[float], float]:
        """``step(lr)``: one optimizer step on the next batch with backbone rate ``lr``."""
        from tunelab.layers import set_train_mode
        from tunelab.optim import build_optimizer, build_param_groups

        self.model.to(self.device)
        set_train_mode(self.model, self.groups)
        param_groups = build_param_groups(self.model, self.groups, self.plans, self.cfg)
        optimizer = build_optimizer(param_groups, self.cfg)
        # backbone groups scale with lr (their lr_scale kept); the head group keeps its own
        head = self.groups[-1].name
        scales = [None if g["group"] == head else g["lr"] / self.cfg.lr for g in param_groups]
        batches = self._batches()

        def step(lr: float) -> float:
            for group, scale in zip(optimizer.param_groups, scales, strict=True):
                if scale is not None:
                    group["lr"] = lr * scale
            batch = self.train_data.collate(next(batches))
            batch = {k: v.to(self.device) for k, v in batch.items()}
            targets = batch.pop("labels")
            loss = self.objective.loss(self.model(**batch), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.grad_clip:
                params = [p for g in optimizer.param_groups for p in g["params"]]
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            optimizer.step()
            return float(loss.detach())

        return step

    def _batches(self):
        epoch = 0
        while True:
            yield from self.train_data.epoch_batches(
                self.cfg.batch_size, self.cfg.seed, epoch, self.cfg.group_by_length
            )
            epoch += 1
