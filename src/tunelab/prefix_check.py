"""Whether the frozen-prefix cache may stand in for the frozen bottom at a cut.

:func:`check_prefix` runs one small batch (the longest and the shortest example, so
padding is covered) and measures, at the precision training runs in:

* that the frozen bottom is deterministic in training's train/eval modes (no dropout,
  no batch statistics), and
* how far the cached path (states at the cut, then the blocks above) lands from the
  model's own forward.

Under mixed precision both sides run under the training forward's own autocast, and
the tolerance is what autocast itself changes: the gap between the model's fp32 and
autocast logits on the same batch. A fixed fp32 tolerance would call autocast's own
rounding a resume error (0.0028 on MiniLM under bf16) and turn the cache off, leaving
``top_k`` slower per epoch than ``full``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tunelab.layers import LayerGroup, eval_mode, modes_restored, set_train_mode

CHECK_ATOL = 1e-4  # cached-path logits vs the model's own (fp32; float summation order only)
CHECK_RTOL = 1e-3
# Under autocast the cached path may differ from the autocast forward by at most this
# times what autocast moves that forward from fp32: no more than the chosen precision's
# own rounding, which the user already accepted.
AUTOCAST_GAP_MULTIPLE = 1.0

Autocast = Callable[[], contextlib.AbstractContextManager]  # the training forward's precision


@dataclass(frozen=True)
class PrefixCheck:
    """What :func:`check_prefix` measured: max absolute logit differences on its batch."""

    gap: float  # cached path vs the model's own forward, both at training's precision
    autocast_gap: float  # the model's own forward at training's precision vs in fp32
    reason: str | None = None  # why the cache cannot be used; None: it can

    @property
    def tolerance(self) -> float:
        """The accepted ``gap`` (absolute part): fp32's, or autocast's own change."""
        return max(CHECK_ATOL, AUTOCAST_GAP_MULTIPLE * self.autocast_gap)

    def summary(self) -> str:
        """The measured numbers, for the console line and ``metrics.json``."""
        where = (
            f"autocast moves them {self.autocast_gap:.2g} from fp32"
            if self.autocast_gap
            else "fp32"
        )
        return f"cached-path logits within {self.gap:.2g} of the model's own ({where})"


@torch.inference_mode()
def check_prefix(
    model: nn.Module,
    groups: list[LayerGroup],
    tokens,
    start_block: int,
    device,
    autocast: Autocast = contextlib.nullcontext,
) -> PrefixCheck:
    """Measure whether the cache can stand in for the frozen bottom at ``start_block``.

    Args:
        model: a classifier with ``hidden_before`` / ``forward_from`` (``TextClassifier``).
        groups: its layer groups (their trainable flags set the train/eval modes).
        tokens: a token batch source; its longest and shortest examples are checked.
        start_block: the first block that trains.
        device: where the model is.
        autocast: the training forward's precision context (none: fp32).
    """
    batch = _longest_and_shortest(tokens, device)
    with modes_restored(model), autocast():
        set_train_mode(model, groups)
        first = model.hidden_before(start_block, **batch)
        second = model.hidden_before(start_block, **batch)
    if not torch.allclose(first, second, atol=1e-6):
        reason = "the frozen layers are not deterministic (dropout or batch statistics active)"
        return PrefixCheck(float("nan"), float("nan"), reason)
    with eval_mode(model):
        exact = _own_forward(model, batch)
        with autocast():
            expected = _own_forward(model, batch)
            resumed = model.forward_from(
                model.hidden_before(start_block, **batch), batch["attention_mask"], start_block
            ).float()
    measured = PrefixCheck(_max_gap(resumed, expected), _max_gap(expected, exact))
    if torch.allclose(resumed, expected, atol=measured.tolerance, rtol=CHECK_RTOL):
        return measured
    reason = f"resuming at block {start_block} changes the logits by {measured.gap:.2g}"
    if measured.autocast_gap:
        reason += f", more than autocast itself does ({measured.autocast_gap:.2g})"
    return PrefixCheck(measured.gap, measured.autocast_gap, reason)


def _longest_and_shortest(tokens, device) -> dict[str, torch.Tensor]:
    order = tokens.eval_batches(1)  # longest first
    batch = tokens.collate([order[0][0], order[-1][0]])
    batch.pop("labels")
    return {k: v.to(device) for k, v in batch.items()}


def _own_forward(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The model class's forward, in fp32 logits. accelerate replaces the instance's
    ``forward`` with one wrapped in its autocast, which an outer context cannot switch
    off; the class's forward runs at whatever precision the caller's context sets."""
    return type(model).forward(model, **batch).float()


def _max_gap(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max()) if a.numel() else 0.0
