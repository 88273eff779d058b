"""The contrastive phase: fine-tune a backbone on pairs of labelled examples (SetFit).

With a handful of labels per class a classifier head has too little to learn from, but
``n`` labelled examples make ``n (n - 1) / 2`` pairs. SetFit (Tunstall et al., 2022)
trains the sentence encoder on them: two examples of one label are a positive pair
(target cosine similarity 1), of different labels a negative one (0), and the loss is
the squared gap between the pair's cosine similarity and its target
(sentence-transformers' ``CosineSimilarityLoss``), one epoch at lr 2e-5 with linear
warmup and decay. A linear head is then fitted on the tuned embeddings.

This module is the pair phase: the pairs (a pure, seeded function) and the loop over
them. It knows no task: the caller passes the embedding of a collated batch.

The pairs follow setfit 1.2's ``ContrastiveDataset``: combinations with replacement, so
every example is also paired with itself, and the two sides of a batch of pairs are
embedded in two forward passes (sentence-transformers' ``CosineSimilarityLoss``), each
with its own dropout masks. A self-pair is then not a no-op: its two embeddings differ
by dropout alone, and pulling them together is SimCSE's unsupervised objective (Gao et
al., 2021), a regulariser that matters most with the fewest examples. Embedding each
example once per step instead (one shared dropout mask, self-pairs dropped) scored
below setfit at 8 examples per class.

The optimizer is the one setfit's body trains under (HF Trainer's): AdamW, weight decay
on the weight matrices only, the gradient norm clipped at 1, and a linear schedule whose
warmup starts at lr 0. With dropout off and the pairs in one order, this phase and
setfit 1.2's ``Trainer`` end at the same weights (tests/test_contrastive_phase_setfit.py);
what differs between two runs is only their random streams.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tunelab.batching import epoch_rng, shuffled_batches
from tunelab.errors import ConfigError
from tunelab.optim import lr_multiplier, split_by_decay

# All n (n + 1) / 2 pairs are drawn before sampling; past this many examples that is
# tens of millions of pairs, and the phase is meant for 8-64 examples per class.
MAX_EXAMPLES = 4000
GRAD_CLIP = 1.0  # HF Trainer's max_grad_norm, which setfit's body training runs under
CURVE_POINTS = 50  # the recorded loss curve: means over at most this many spans of steps

Embed = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]


@dataclass(frozen=True)
class Pairs:
    """Pairs of example positions and their targets (1.0: same label, 0.0: different).

    Attributes:
        distinct_positive: how many different positive pairs the examples make (after
            ``max_pairs``); the ``positive`` pairs cycle through them.
        distinct_negative: the same for negative pairs.
    """

    first: np.ndarray
    second: np.ndarray
    target: np.ndarray
    distinct_positive: int
    distinct_negative: int

    def __len__(self) -> int:
        return len(self.target)

    @property
    def positive(self) -> int:
        """Pairs of one label."""
        return int(self.target.sum())


def contrastive_pairs(
    labels: Sequence[int],
    seed: int,
    num_iterations: int | None = None,
    max_pairs: int | None = None,
) -> Pairs:
    """Balanced positive and negative pairs of the examples' positions, seeded.

    Every distinct pair ``i <= j`` (an example with itself too, see the module
    docstring) is put in one seeded random order and sorted into positive and negative.
    Each kind then yields ``num_iterations * n`` pairs, cycling
    through its distinct pairs in that order; with ``num_iterations`` None, as many as
    the larger kind has, so each distinct pair is drawn at least once (setfit's default,
    ``sampling_strategy="oversampling"``). ``max_pairs`` keeps at most half of it of
    each kind's distinct pairs first (setfit: ``max_steps * batch_size``).

    Raises:
        ConfigError: too many examples, or no negative pair (one class).
    """
    y = np.asarray(labels)
    n = len(y)
    if n > MAX_EXAMPLES:
        raise ConfigError(
            f"strategy contrastive pairs every two training examples; {n:,} examples make "
            f"{n * (n + 1) // 2:,} pairs. It is meant for few labels (8-64 per class): set "
            "data.train_per_class, or use another strategy"
        )
    first, second = np.triu_indices(n, k=0)
    order = np.random.default_rng(seed).permutation(len(first))
    first, second = first[order], second[order]
    same = y[first] == y[second]
    kinds = [(first[same], second[same]), (first[~same], second[~same])]
    if max_pairs is not None:
        kinds = [(a[: max(max_pairs // 2, 1)], b[: max(max_pairs // 2, 1)]) for a, b in kinds]
    _check_negatives(len(kinds[1][0]))
    count = num_iterations * n if num_iterations else max(len(kinds[0][0]), len(kinds[1][0]))
    cycled = [(a[np.arange(count) % len(a)], b[np.arange(count) % len(b)]) for a, b in kinds]
    return Pairs(
        first=np.concatenate([cycled[0][0], cycled[1][0]]),
        second=np.concatenate([cycled[0][1], cycled[1][1]]),
        target=np.concatenate([np.ones(count), np.zeros(count)]).astype(np.float32),
        distinct_positive=len(kinds[0][0]),
        distinct_negative=len(kinds[1][0]),
    )


def _check_negatives(negative: int) -> None:
    """Self-pairs make positive pairs of any data; negative ones need two classes."""
    if not negative:
        raise ConfigError(
            "strategy contrastive needs examples of at least two classes in the training "
            "split (negative pairs); check data.train and data.label_column"
        )


@dataclass(frozen=True)
class PairTraining:
    """How the pairs train the backbone (the ``strategy`` keys of the same meaning)."""

    lr: float = 2e-5
    weight_decay: float = 0.01
    epochs: int = 1
    batch_size: int = 16
    warmup_ratio: float = 0.1
    max_steps: int | None = None
    seed: int = 0

    def total_steps(self, pairs: int) -> int:
        """Optimizer steps over ``pairs`` pairs: every batch of every epoch, capped."""
        steps = math.ceil(pairs / self.batch_size) * self.epochs
        return min(steps, self.max_steps) if self.max_steps else steps


@dataclass
class PairResult:
    """What the phase did: steps taken, the loss at each, wall time."""

    steps: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def curve(self, points: int = CURVE_POINTS) -> list[float]:
        """The loss as means over at most ``points`` equal spans of steps."""
        spans = np.array_split(np.asarray(self.losses), min(points, len(self.losses)))
        return [round(float(span.mean()), 5) for span in spans if len(span)]


def train_on_pairs(
    model: nn.Module,
    params: list[nn.Parameter],
    embed: Embed,
    source,
    pairs: Pairs,
    settings: PairTraining,
    device: torch.device,
    on_step: Callable[[int, int, float], None] | None = None,
) -> PairResult:
    """Train ``params`` so that pairs' cosine similarity matches their targets.

    Each step embeds the first and the second examples of ``batch_size`` pairs in two
    forward passes (two padded batches of ``source.collate``), takes the mean squared gap
    between cosine similarity and target, clips the gradient norm at 1 and steps AdamW on
    HF Trainer's linear warmup-then-decay schedule (which setfit trains under: the first
    step runs at lr 0 and only seeds Adam's moments). Weight decay applies to matrices
    only, not to biases and normalisation weights (setfit's ``l2_weight``, which it hands
    to HF Trainer's ``weight_decay``; Trainer leaves biases and LayerNorm undecayed).

    Args:
        model: what ``embed`` runs (left in the train/eval mode it came in).
        params: the parameters to train; the caller makes them require gradients.
        embed: ``embed(model, batch)`` -> one pooled embedding per example of ``batch``.
        source: the training batch source (``collate(indices)``).
        on_step: called after every step with (steps done, total steps, the step's
            loss): the caller's progress display. On a CPU the phase runs for minutes.
    """
    total = settings.total_steps(len(pairs))
    groups = _decay_groups(model, params, settings.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=settings.lr)
    warmup = math.ceil(settings.warmup_ratio * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(step, total, warmup, "linear", warmup_from_zero=True)
    )
    result, started, was_training = PairResult(steps=0), time.perf_counter(), model.training
    model.train()  # dropout on, as in setfit's body training
    for epoch in range(settings.epochs):
        rng = epoch_rng(settings.seed, epoch)
        for rows in shuffled_batches(len(pairs), settings.batch_size, rng):
            if result.steps == total:
                break
            loss = _pair_loss(model, embed, source, pairs, rows, device)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            result.steps += 1
            result.losses.append(float(loss.detach()))
            if on_step is not None:
                on_step(result.steps, total, result.losses[-1])
    model.train(was_training)
    result.seconds = time.perf_counter() - started
    return result


def _decay_groups(model: nn.Module, params: list[nn.Parameter], weight_decay: float) -> list[dict]:
    """``params`` split by the trainer's rule (:func:`tunelab.optim.split_by_decay`):
    weights decayed, biases and normalisation weights not."""
    decayed, plain = split_by_decay(params, {id(p): n for n, p in model.named_parameters()})
    return [{"params": decayed, "weight_decay": weight_decay},
            {"params": plain, "weight_decay": 0.0}]  # fmt: skip


def _pair_loss(
    model: nn.Module, embed: Embed, source, pairs: Pairs, rows: list[int], device: torch.device
) -> torch.Tensor:
    """Mean squared gap between the cosine similarity of each pair and its target.

    The first and the second examples of the pairs are embedded in two forward passes,
    as sentence-transformers does: each side gets its own dropout masks, so a self-pair
    (and any example drawn on both sides) is compared under two different masks.
    """
    left, right = (_embed_side(model, embed, source, side, device)
                   for side in (pairs.first[rows], pairs.second[rows]))  # fmt: skip
    target = torch.as_tensor(pairs.target[rows], device=device)
    return F.mse_loss(F.cosine_similarity(left, right), target)


def _embed_side(
    model: nn.Module, embed: Embed, source, examples: np.ndarray, device: torch.device
) -> torch.Tensor:
    batch = source.collate(examples.tolist())
    batch.pop("labels", None)
    return embed(model, {k: v.to(device) for k, v in batch.items()}).float()
