"""Frozen-prefix cache: run the frozen bottom of the backbone once, train the top on it.

``top_k`` and ``gradual_unfreeze`` leave the bottom of the backbone frozen, and frozen
groups run in eval mode (no dropout), so the token states at the cut (the output of the
last frozen group) never change during training. Computing them once per example turns
every later pass into a pass over the trained blocks only.

* :func:`compute_prefix_states` runs the frozen bottom under ``inference_mode`` and keeps
  each example's states unpadded, packed in one ``[tokens, hidden]`` tensor (optionally
  bf16/fp16; in a memory-mapped file when larger than :data:`PREFIX_CACHE_MEMORY_BYTES`).
* :class:`PrefixBatches` is a batch source with the same examples, order, lengths and
  batches as the :class:`~tunelab.batching.TokenBatches` it replaces; its batches hold
  ``hidden_states`` + ``attention_mask`` + ``start_block``, which
  ``TextClassifier.forward_from`` resumes from.
* :class:`FrozenPrefixCache` is a callback that keeps the trainer on the cache for the
  current cut; when gradual unfreezing moves the cut down, the old cache is dropped and
  the states are recomputed at the new cut.

Before the first use at a cut it checks, on one batch, that the cached path gives the
model's own logits and that the frozen part is deterministic; otherwise training runs
the normal path (with a notice, or an error when ``strategy.prefix_cache: on``).

Under mixed precision the states are computed under the training forward's own autocast
(:mod:`tunelab.prefix_check` checks at that precision). They are stored in fp32 by
default even then: a BERT block ends in a LayerNorm, which autocast runs in fp32, so the
autocast forward carries fp32 states between blocks and an fp32 cache reproduces them
exactly; bf16 storage halves the memory but moves the logits by about as much as
autocast itself does (MiniLM under bf16: 0.0010-0.0015, against autocast's 0.0012-0.0017).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.markup import escape
from torch import nn

from tunelab.batching import VariableLengthBatching
from tunelab.callbacks import Callback
from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup, eval_mode
from tunelab.prefix_check import Autocast, PrefixCheck, check_prefix
from tunelab.strategies.base import GroupPlan

PREFIX_CACHE_MEMORY_BYTES = 1 << 30  # larger caches go to a memory-mapped file
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class PrefixStates:
    """Every example's token states entering block ``start_block``, unpadded and packed.

    Example ``i`` is ``packed[starts[i] : starts[i] + lengths[i]]``.
    """

    packed: torch.Tensor
    starts: list[int]
    lengths: list[int]
    start_block: int
    on_disk: bool = False

    def example(self, i: int) -> torch.Tensor:
        """The ``[length, hidden]`` states of example ``i``."""
        return self.packed[self.starts[i] : self.starts[i] + self.lengths[i]]

    @property
    def nbytes(self) -> int:
        """Size of the packed states."""
        return self.packed.numel() * self.packed.element_size()


@dataclass
class PrefixBatches(VariableLengthBatching):
    """A batch source over cached prefix states (the trainer's batch-source interface)."""

    states: PrefixStates
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.states.lengths)

    @property
    def lengths(self) -> list[int]:
        """Token count of every example (as in the token source it replaces)."""
        return self.states.lengths

    def collate(self, indices: Sequence[int]) -> dict[str, Any]:
        """Pad the chosen examples' states (as float32) to their longest one."""
        lengths = [self.states.lengths[i] for i in indices]
        width = max(lengths)
        hidden = torch.zeros(len(indices), width, self.states.packed.shape[1])
        mask = torch.zeros(len(indices), width, dtype=torch.long)
        for row, (i, n) in enumerate(zip(indices, lengths, strict=True)):
            hidden[row, :n] = self.states.example(i)
            mask[row, :n] = 1
        return {
            "hidden_states": hidden,
            "attention_mask": mask,
            "start_block": self.states.start_block,
            "labels": self.labels[list(indices)],
        }


def _packed_buffer(tokens: int, hidden: int, dtype: torch.dtype, spill_dir: Path | None):
    """A ``[tokens, hidden]`` tensor in memory, or in a memory-mapped file when large."""
    itemsize = torch.tensor([], dtype=dtype).element_size()
    if tokens * hidden * itemsize <= PREFIX_CACHE_MEMORY_BYTES:
        return torch.empty(tokens, hidden, dtype=dtype), None
    spill_dir = Path(spill_dir or tempfile.gettempdir())
    spill_dir.mkdir(parents=True, exist_ok=True)
    path = spill_dir / f"tunelab-prefix-{os.getpid()}-{uuid.uuid4().hex[:8]}.bin"
    with path.open("wb") as handle:
        handle.truncate(tokens * hidden * itemsize)
    packed = torch.from_file(str(path), shared=True, size=tokens * hidden, dtype=dtype)
    return packed.view(tokens, hidden), path


def compute_prefix_states(
    model: nn.Module,
    tokens,
    start_block: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    spill_dir: Path | None = None,
    autocast: Autocast = contextlib.nullcontext,
) -> PrefixStates:
    """Token states entering ``start_block`` for every example of ``tokens``.

    Args:
        model: a classifier with ``hidden_before`` (``TextClassifier``).
        tokens: a token batch source (``lengths``, ``collate``, ``eval_batches``).
        start_block: the first block that trains (0: the embeddings' output).
        batch_size: examples per inference batch (sorted by length, little padding).
        device: where the frozen bottom runs.
        dtype: storage dtype (bf16/fp16 halve the memory; batches are fp32 again).
        spill_dir: where a cache over :data:`PREFIX_CACHE_MEMORY_BYTES` is memory-mapped.
        autocast: the training forward's precision context: the states are computed under
            it, as the recomputing run would compute them.
    """
    lengths = list(tokens.lengths)
    starts = [0] * len(lengths)
    for i in range(1, len(lengths)):
        starts[i] = starts[i - 1] + lengths[i - 1]
    packed, path = None, None
    for indices in tokens.eval_batches(batch_size):
        with autocast():
            hidden = _hidden_before(model, tokens, indices, start_block, device)
        hidden = hidden.to("cpu", dtype)
        if packed is None:
            packed, path = _packed_buffer(sum(lengths), hidden.shape[-1], dtype, spill_dir)
        for row, i in enumerate(indices):
            packed[starts[i] : starts[i] + lengths[i]] = hidden[row, : lengths[i]]
    if packed is None:
        packed = torch.empty(0, 0, dtype=dtype)
    states = PrefixStates(packed, starts, lengths, start_block, on_disk=path is not None)
    if path is not None:
        _remove_when_unused(states, path)
    return states


def _hidden_before(model: nn.Module, tokens, indices: list[int], start_block: int, device):
    """The frozen bottom on one batch, in eval mode under ``inference_mode``."""
    batch = tokens.collate(indices)
    batch.pop("labels")
    with torch.inference_mode(), eval_mode(model):
        return model.hidden_before(start_block, **{k: v.to(device) for k, v in batch.items()})


def _remove_when_unused(states: PrefixStates, path: Path) -> None:
    """Delete the spill file now where the mapping survives it (POSIX), else on release."""
    try:
        path.unlink()
    except OSError:
        weakref.finalize(states, path.unlink, missing_ok=True)


def frozen_prefix_groups(groups: list[LayerGroup]) -> int:
    """How many backbone groups, from the bottom, have no trainable parameter now."""
    count = 0
    for group in groups[:-1]:  # the last group is the head
        if group.num_trainable:
            break
        count += 1
    return count


class FrozenPrefixCache(Callback):
    """Keeps the trainer on cached states at the current cut; recomputes when it moves."""

    def __init__(
        self,
        model: nn.Module,
        groups: list[LayerGroup],
        train_tokens,
        val_tokens,
        dtype: str = "float32",
        spill_dir: Path | None = None,
        batch_size: int = 64,
        strict: bool = False,
        console: Console | None = None,
    ) -> None:
        self.model, self.groups = model, groups
        self.train_tokens, self.val_tokens = train_tokens, val_tokens
        self.dtype, self.spill_dir, self.batch_size = DTYPES[dtype], spill_dir, batch_size
        self.strict = strict
        self.console = console or Console(quiet=True)
        self.cut: int | None = None  # frozen groups the current sources are built for
        self.disabled_reason: str | None = None
        self.check: PrefixCheck | None = None  # the last cut's check (its measured gaps)
        self.build_seconds = 0.0  # all checks and (re)computations of the cache
        self.train_build_seconds = 0.0  # the training split's share (validation excluded)

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        self.sync(trainer)

    def on_trainable_changed(self, trainer: Any) -> None:
        self.sync(trainer)

    def sync(self, trainer: Any) -> None:
        """Give the trainer cached sources for the current cut (a moved cut invalidates)."""
        cut = frozen_prefix_groups(self.groups)
        if cut == self.cut:
            return
        self.cut = cut
        started = time.perf_counter()
        if cut == 0 or self.disabled_reason is not None or not self._usable(cut, trainer):
            trainer.use_data(self.train_tokens, self.val_tokens)
            return
        train = PrefixBatches(
            self._states(self.train_tokens, cut - 1, trainer), self.train_tokens.labels
        )
        self.train_build_seconds += time.perf_counter() - started
        val = PrefixBatches(self._states(self.val_tokens, cut - 1, trainer), self.val_tokens.labels)
        trainer.use_data(train, val)
        seconds = time.perf_counter() - started
        self.build_seconds += seconds
        self._report(cut, train, val, seconds)

    def _report(self, cut: int, train: PrefixBatches, val: PrefixBatches, seconds: float) -> None:
        where = " (memory-mapped file)" if train.states.on_disk else ""
        last = len(self.model.blocks()) - 1
        runs = f"blocks {cut - 1}-{last} and the head" if cut - 1 <= last else "the head"
        checked = f"; {self.check.summary()}" if self.check.autocast_gap else ""
        self.console.print(
            f"frozen prefix cached: {cut} frozen groups run once for {len(train) + len(val):,} "
            f"examples in {seconds:.1f}s{where}; each step runs {runs} only{checked}"
        )

    def _states(self, tokens, start_block: int, trainer: Any) -> PrefixStates:
        return compute_prefix_states(
            self.model,
            tokens,
            start_block,
            self.batch_size,
            trainer.device,
            self.dtype,
            self.spill_dir,
            trainer.autocast,
        )

    def _usable(self, cut: int, trainer: Any) -> bool:
        """Check on one batch, at training's precision: cached path == model path, and
        the frozen part deterministic."""
        self.check = check_prefix(
            self.model, self.groups, self.train_tokens, cut - 1, trainer.device, trainer.autocast
        )
        reason = self.check.reason
        if reason is None:
            return True
        if self.strict:
            raise ConfigError(f"strategy.prefix_cache=on: {reason}; set it to auto or off")
        self.disabled_reason = reason
        self.console.print(
            f"[dim]note: frozen-prefix cache off ({reason}); training recomputes "
            "the frozen layers every step[/]"
        )
        return False

    def decision(self) -> dict[str, Any] | None:
        """The ``strategy.prefix_cache`` entry of metrics.json "decisions" (None: no cut
        was ever checked), with the last check's measured logit gaps."""
        if self.check is None:
            return None
        if self.check.reason is not None:
            return {"value": "off", "reason": self.check.reason}
        return {
            "value": "on",
            "reason": self.check.summary(),
            "gap": self.check.gap,
            "autocast_gap": self.check.autocast_gap,
            "tolerance": self.check.tolerance,
        }


def prefix_cache_callbacks(
    cfg,
    model: nn.Module,
    plans: list[GroupPlan],
    groups: list[LayerGroup],
    data: dict,
    console: Console,
) -> list[Callback]:
    """``[FrozenPrefixCache]`` when ``strategy.prefix_cache`` allows it and it applies.

    ``auto`` uses it whenever the strategy freezes the bottom of a supported backbone and
    says why not (once) when it cannot; ``on`` makes "cannot" an error; ``off`` never.
    """
    mode = getattr(cfg.strategy, "prefix_cache", "off")  # only bottom-freezing strategies
    check_prefix_cache_setting(cfg, model, plans)
    if not hasattr(data["train"], "lengths"):
        return []  # pooled features are cached already (feature extraction)
    if mode == "off" or not _freezes_bottom(plans):
        return []
    reason = _unsupported(cfg, model, data)
    if reason is not None:
        if mode == "on":
            raise ConfigError(f"strategy.prefix_cache=on: {reason}; set it to auto or off")
        console.print(f"[dim]note: frozen-prefix cache off ({escape(reason)})[/]")
        return []
    spill_dir = Path(cfg.strategy.cache_dir) if cfg.strategy.cache_dir else None
    return [
        FrozenPrefixCache(
            model,
            groups,
            data["train"],
            data["validation"],
            cfg.strategy.prefix_cache_dtype,
            spill_dir,
            cfg.train.eval_batch_size,
            strict=mode == "on",
            console=console,
        )
    ]


def prefix_cache_decisions(callbacks: list[Callback]) -> dict[str, dict[str, Any]]:
    """metrics.json "decisions" of the cache among ``callbacks``: whether it ran, and the
    logit gaps its check measured (``{}`` when no cut was checked)."""
    for callback in callbacks:
        if isinstance(callback, FrozenPrefixCache) and callback.decision() is not None:
            return {"strategy.prefix_cache": callback.decision()}
    return {}


def check_prefix_cache_setting(cfg, model: nn.Module, plans: list[GroupPlan]) -> None:
    """Refuse ``strategy.prefix_cache: on`` where no cache can apply, from the config,
    model and plans alone: a run checks this before it writes anything."""
    if getattr(cfg.strategy, "prefix_cache", "off") != "on":
        return
    if not _freezes_bottom(plans):
        raise ConfigError(
            f"strategy.prefix_cache=on: strategy '{cfg.strategy.name}' "
            "freezes no bottom layers to cache; set it to auto or off"
        )
    reason = _unsupported_model(model)
    if reason is not None:
        raise ConfigError(f"strategy.prefix_cache=on: {reason}; set it to auto or off")


def _freezes_bottom(plans: list[GroupPlan]) -> bool:
    """The bottom group starts frozen, and no LoRA (adapters change the frozen part)."""
    return plans[0].state == "frozen" and all(p.state != "lora" for p in plans)


def _unsupported_model(model: nn.Module) -> str | None:
    if not getattr(model, "resumable", False):
        kind = getattr(getattr(getattr(model, "backbone", None), "config", None), "model_type", "")
        return f"'{kind or type(model).__name__}' is not a supported encoder (BERT family)"
    return None


def _unsupported(cfg, model: nn.Module, data: dict) -> str | None:
    reason = _unsupported_model(model)
    if reason is not None:
        return reason
    every = getattr(cfg.strategy, "unfreeze_every_steps", None)
    if (
        cfg.strategy.name == "gradual_unfreeze"
        and every
        and every * cfg.train.batch_size < len(data["train"])
    ):
        return (
            f"unfreezing every {every} steps moves the cut before one pass over the "
            "data, so a cache would be recomputed more often than it is reused"
        )
    return None
