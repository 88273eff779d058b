"""Rows 1, 3, 4 and 6: training throughput, prefix cache, MFU and accuracy.

One epoch (``train / batch size`` steps) of full fine-tuning with the tunelab trainer
and with ``transformers.Trainer`` (interleaved repeats, median), then one epoch of top-2
with the frozen-prefix cache. Full fine-tuning is shared by rows 1 and 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from common import (
    BATCH_SIZE,
    BenchData,
    Row,
    Sizes,
    accuracy,
    matmul_peak_gflops,
    median,
    ratio_row,
)
from sides import TunelabRun, predict_hf, predict_tunelab, train_hf, train_tunelab


@dataclass
class TrainingResults:
    """The rows, plus the trained models that the latency row reuses."""

    rows: list[Row]
    tunelab_full: TunelabRun
    hf_model: torch.nn.Module
    hf_tokenizer: object


def run(data: BenchData, sizes: Sizes, log) -> TrainingResults:
    """Train both sides, measure, and build rows 1, 3, 4 and 6."""
    steps = math.ceil(len(data.train[0]) / BATCH_SIZE)
    tunelab_runs, hf_seconds = [], []
    for repeat in range(sizes.repeats):
        tunelab_runs.append(train_tunelab(data, "full", steps))
        log(f"  tunelab full, repeat {repeat + 1}: {tunelab_runs[-1].seconds:.1f}s")
        seconds, hf_model, hf_tokenizer = train_hf(data, steps)
        hf_seconds.append(seconds)
        log(f"  HF Trainer,   repeat {repeat + 1}: {seconds:.1f}s")
    top2_runs = []
    for repeat in range(sizes.repeats):
        top2_runs.append(train_tunelab(data, "top_k", steps, k=2, prefix_cache=True))
        run_ = top2_runs[-1]
        log(
            f"  tunelab top-2 + prefix cache, repeat {repeat + 1}: epoch "
            f"{run_.epoch_seconds:.1f}s + cache {run_.cache.build_seconds:.1f}s"
        )
    full = tunelab_runs[-1]
    samples = steps * BATCH_SIZE
    rows = [
        ratio_row(
            "1. full fine-tuning throughput vs transformers.Trainer",
            samples / median([r.seconds for r in tunelab_runs]),
            samples / median(hf_seconds),
            "samples/s",
            ">= 1.3",
        ),
        *_prefix_rows(tunelab_runs, top2_runs),
        _mfu_row(full, median([r.epoch_seconds for r in tunelab_runs])),
        *_accuracy_rows(data, full, hf_model, hf_tokenizer, top2_runs[-1]),
    ]
    return TrainingResults(rows, full, hf_model, hf_tokenizer)


def _prefix_rows(full_runs: list[TunelabRun], top2_runs: list[TunelabRun]) -> list[Row]:
    full_epoch = median([r.epoch_seconds for r in full_runs])
    with_build = median([r.epoch_seconds + r.cache.build_seconds for r in top2_runs])
    epoch_only = median([r.epoch_seconds for r in top2_runs])
    return [
        ratio_row(
            "3. top-2 epoch (prefix cache, build included) / full epoch",
            with_build,
            full_epoch,
            "s",
            "<= 0.45",
        ),
        ratio_row(
            "3b. top-2 epoch (prefix cache, build excluded: later epochs) / full epoch",
            epoch_only,
            full_epoch,
            "s",
            "<= 0.45",
        ),
    ]


def _mfu_row(full: TunelabRun, epoch_seconds: float) -> Row:
    """Model FLOPs of the executed batches (FlopCounterMode) / loop time / matmul peak."""
    flops = training_flops(full.model, full.train, full.trainer)
    achieved = flops / epoch_seconds / 1e9
    peak = matmul_peak_gflops()
    return ratio_row(
        "4. training MFU (full fine-tuning; fp32 matmul peak, same run)",
        achieved,
        peak,
        "GFLOP/s",
        ">= 0.6",
    )


def training_flops(model: torch.nn.Module, train, trainer) -> float:
    """Forward + backward FLOPs of one epoch's batches, as padded and executed.

    Per sequence the count is ``c + a*L + b*L**2`` (linear layers, attention), so three
    FlopCounterMode passes at batch size 1 give it exactly for every batch shape.
    """
    cfg = trainer.cfg
    batches = train.epoch_batches(cfg.batch_size, cfg.seed, 0, cfg.group_by_length)
    lengths = train.lengths
    points = [8, 16, 32]
    counts = [_count_one(model, length) for length in points]
    c, a, b = np.linalg.solve(np.array([[1.0, n, n * n] for n in points]), np.array(counts))
    total = 0.0
    for indices in batches:
        width = max(lengths[i] for i in indices)
        total += len(indices) * (c + a * width + b * width**2)
    return float(total)


def _count_one(model: torch.nn.Module, length: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    ids = torch.ones(1, length, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, attention_mask=torch.ones_like(ids)).sum().backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def _accuracy_rows(
    data: BenchData, full: TunelabRun, hf_model, hf_tokenizer, top2: TunelabRun
) -> list[Row]:
    texts, truth = data.test
    tunelab_full = accuracy(predict_tunelab(full.model, full.tokenizer, data.labels, texts), truth)
    hf = accuracy(predict_hf(hf_model, hf_tokenizer, texts), truth)
    top2_acc = accuracy(predict_tunelab(top2.model, top2.tokenizer, data.labels, texts), truth)
    return [
        ratio_row(
            "6a. test accuracy, row 1: tunelab full - HF Trainer (points)",
            tunelab_full,
            hf,
            "%",
            ">= -0.5",
            ratio=tunelab_full - hf,
        ),
        ratio_row(
            "6b. test accuracy, row 3: tunelab top-2 (cached) - full (points)",
            top2_acc,
            tunelab_full,
            "%",
            ">= -0.5",
            ratio=top2_acc - tunelab_full,
        ),
    ]
