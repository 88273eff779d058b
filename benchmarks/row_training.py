"""Rows 1, 3, 4 and 6: training throughput, prefix cache, MFU and accuracy.

Each repeat trains one epoch (``train / batch size`` steps) three ways, interleaved:
tunelab full fine-tuning, ``transformers.Trainer`` full fine-tuning, and tunelab top-2
on the frozen-prefix cache; rows take the median over repeats. One more top-2 run
without the cache checks that the cache changes nothing but time (rows 3c, 6c).
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


TOP_K_LR = 1e-4  # configs/demo.yaml's top_k recipe: fewer trained layers, a higher LR


@dataclass
class Timing:
    """What the rows need from one run once its model is gone."""

    seconds: float  # the whole fit() / train()
    epoch: float  # the training loop of the epoch alone (tunelab)
    cache: float = 0.0  # frozen-prefix cache check + build for the training split


def run(data: BenchData, sizes: Sizes, log) -> TrainingResults:
    """Train every side ``repeats`` times, interleaved, then build rows 1, 3, 4 and 6."""
    steps = math.ceil(len(data.train[0]) / BATCH_SIZE)
    timings: dict[str, list[Timing]] = {"full": [], "hf": [], "top2": []}
    peaks = [matmul_peak_gflops()]  # measured between runs: the best is the least disturbed
    for repeat in range(sizes.repeats):
        full = train_tunelab(data, "full", steps)
        timings["full"].append(Timing(full.seconds, full.epoch_seconds))
        hf_seconds, hf_model, hf_tokenizer = train_hf(data, steps)
        timings["hf"].append(Timing(hf_seconds, hf_seconds))
        top2 = train_tunelab(data, "top_k", steps, k=2, prefix_cache=True, lr=TOP_K_LR)
        cache = top2.cache.train_build_seconds
        timings["top2"].append(Timing(top2.seconds, top2.epoch_seconds, cache))
        log(
            f"  repeat {repeat + 1}: tunelab full {full.seconds:.1f}s (epoch "
            f"{full.epoch_seconds:.1f}s), HF Trainer {hf_seconds:.1f}s, tunelab top-2 epoch "
            f"{top2.epoch_seconds:.1f}s + cache build {cache:.1f}s (train split; "
            f"{top2.cache.build_seconds:.1f}s with validation)"
        )
        peaks.append(matmul_peak_gflops())
    recomputed = train_tunelab(data, "top_k", steps, k=2, lr=TOP_K_LR)
    log(f"  tunelab top-2 without the cache: epoch {recomputed.epoch_seconds:.1f}s")
    samples = steps * BATCH_SIZE
    rows = [
        ratio_row(
            "1. full fine-tuning throughput vs transformers.Trainer",
            samples / median([t.seconds for t in timings["full"]]),
            samples / median([t.seconds for t in timings["hf"]]),
            "samples/s",
            ">= 1.3",
        ),
        *_prefix_rows(timings, recomputed),
        _mfu_row(full, median([t.epoch for t in timings["full"]]), max(peaks)),
        *_accuracy_rows(data, full, hf_model, hf_tokenizer, top2, recomputed),
    ]
    return TrainingResults(rows, full, hf_model, hf_tokenizer)


def _prefix_rows(timings: dict[str, list[Timing]], recomputed: TunelabRun) -> list[Row]:
    full_epoch = median([t.epoch for t in timings["full"]])
    top2 = timings["top2"]
    with_build = median([t.epoch + t.cache for t in top2])
    return [
        ratio_row(
            "3. top-2 epoch incl. building its prefix cache / full epoch (no validation)",
            with_build,
            full_epoch,
            "s",
            "<= 0.45",
        ),
        ratio_row(
            "3b. top-2 epoch on the cache (epochs after the first) / full epoch",
            median([t.epoch for t in top2]),
            full_epoch,
            "s",
            "<= 0.45",
        ),
        ratio_row(
            "3c. top-2 epoch on the cache / top-2 epoch recomputing the frozen part (1 run)",
            median([t.epoch for t in top2]),
            recomputed.epoch_seconds,
            "s",
            "<= 1.0",
        ),
    ]


def _mfu_row(full: TunelabRun, epoch_seconds: float, peak: float) -> Row:
    """Model FLOPs of the executed batches (FlopCounterMode) / loop time / matmul peak."""
    flops = training_flops(full.model, full.train, full.trainer)
    achieved = flops / epoch_seconds / 1e9
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
    data: BenchData,
    full: TunelabRun,
    hf_model,
    hf_tokenizer,
    top2: TunelabRun,
    recomputed: TunelabRun,
) -> list[Row]:
    texts, truth = data.test

    def tunelab_accuracy(run_: TunelabRun) -> float:
        return accuracy(predict_tunelab(run_.model, run_.tokenizer, data.labels, texts), truth)

    full_acc, top2_acc = tunelab_accuracy(full), tunelab_accuracy(top2)
    hf_acc = accuracy(predict_hf(hf_model, hf_tokenizer, texts), truth)
    recomputed_acc = tunelab_accuracy(recomputed)
    return [
        ratio_row(
            "6a. test accuracy, row 1: tunelab full - HF Trainer (points)",
            full_acc,
            hf_acc,
            "%",
            ">= -0.5",
            ratio=full_acc - hf_acc,
        ),
        ratio_row(
            "6b. test accuracy, row 3: tunelab top-2 (cached) - tunelab full (points)",
            top2_acc,
            full_acc,
            "%",
            ">= -0.5",
            ratio=top2_acc - full_acc,
        ),
        ratio_row(
            "6c. test accuracy: top-2 cached - top-2 recomputing (points)",
            top2_acc,
            recomputed_acc,
            "%",
            ">= -0.5",
            ratio=top2_acc - recomputed_acc,
        ),
    ]
