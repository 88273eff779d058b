"""Row 12: the tunelab trainer on a GPU under bf16 autocast against HF Trainer with bf16.

Runs only where ``torch.cuda.is_available()`` (none is needed for CI; on a CPU machine it
logs "skipped: no GPU" and gives no rows). Same data, model, batch size and length as
the CPU rows, three whole epochs per run, first epoch included:

* 12a/b: ``full`` vs HF Trainer ``bf16=True``: samples/s and the first epoch's cost.
* 12c: ``top_k`` (k=2, frozen-prefix cache) vs HF Trainer with the same blocks trainable
  (the rest ``requires_grad=False``): samples/s.
* 12d: ``top_k``'s later epochs with the cache / recomputing the frozen layers; the row
  is not met if the cache turned itself off under bf16.
* 12e: ``top_k``'s later epochs on the cache / ``full``'s.
"""

from __future__ import annotations

import statistics

import torch
from common import BenchData, Row, ratio_row
from epoch_sides import TOP_K, EpochRun, hf_epochs, tunelab_epochs
from row_first_epoch import seconds, whole_run_rows

DEVICE = "cuda"


def run(data: BenchData, log) -> list[Row]:
    """Every GPU row, or none (logged) without a GPU."""
    if not torch.cuda.is_available():
        log("  skipped: no GPU")
        return []
    log(f"  {torch.cuda.get_device_name()}, bf16 autocast on both sides")
    full = tunelab_epochs(data, "full", DEVICE, "bf16")
    hf_full = hf_epochs(data, DEVICE, bf16=True)
    cached = tunelab_epochs(data, "top_k", DEVICE, "bf16", prefix_cache=True)
    recomputed = tunelab_epochs(data, "top_k", DEVICE, "bf16")
    hf_top = hf_epochs(data, DEVICE, bf16=True, top_k=TOP_K)
    sides = {
        "tunelab full": full,
        "HF full": hf_full,
        "tunelab top-2 cached": cached,
        "tunelab top-2 recomputing": recomputed,
        "HF top-2": hf_top,
    }
    for name, side in sides.items():
        log(f"  {name} epochs {seconds(side)}")
    return [
        *whole_run_rows("12", "full, GPU bf16", full, hf_full),
        ratio_row(
            "12c. top-2, GPU bf16, prefix cache: whole 3-epoch run samples/s vs "
            "transformers.Trainer training the same blocks",
            cached.samples_per_second,
            hf_top.samples_per_second,
            "samples/s",
            ">= 1.3",
        ),
        _cache_row(cached, recomputed),
        ratio_row(
            "12e. top-2 epoch on the cache / full epoch (GPU bf16, epochs after the first)",
            _later(cached),
            _later(full),
            "s",
            "<= 1.0",
        ),
    ]


def _cache_row(cached: EpochRun, recomputed: EpochRun) -> Row:
    row = ratio_row(
        "12d. top-2 epoch, GPU bf16: prefix cache on / off (epochs after the first; "
        f"cache stayed on: {'yes' if cached.cache_on else 'NO'})",
        _later(cached),
        _later(recomputed),
        "s",
        "<= 1.0",
    )
    row.met = row.met and bool(cached.cache_on)
    return row


def _later(run: EpochRun) -> float:
    """The median epoch after the first (steady state)."""
    return statistics.median(run.epochs[1:])
