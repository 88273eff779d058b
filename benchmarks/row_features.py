"""Row 2: feature extraction, N head-training trials: cached features vs recomputing.

Both sides run the same trials (a fresh head per trial, head learning rates spread over
a log range, the same epochs and batches) with the tunelab trainer. The cached side pays
for one backbone pass over the texts (timed) and then trains every head on pooled
features, as ``tunelab search`` does. The baseline recomputes the backbone for every
batch of every epoch; its trials are identical in work, so it times
``recompute_trials`` of them and scales to N (said so in the row name), which keeps the
whole benchmark within its time budget.
"""

from __future__ import annotations

import numpy as np
import torch
from common import BATCH_SIZE, MAX_LENGTH, BenchData, Row, Sizes, model_path, ratio_row, timed
from sides import encode

from tunelab.config import TrainConfig
from tunelab.features import compute_features
from tunelab.models.head import ClassificationHead
from tunelab.strategies import apply_strategy, strategy_config
from tunelab.tasks.classification import ClassificationObjective
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.model import build_text_classifier
from tunelab.trainer import Trainer


def run(data: BenchData, sizes: Sizes, log) -> list[Row]:
    """Time both sides once each (each is already ``trials x epochs`` of work)."""
    model, tokenizer, _ = build_text_classifier(
        TextModelConfig(name=str(model_path()), max_length=MAX_LENGTH), len(data.labels)
    )
    train, val = encode(tokenizer, data.head_train), encode(tokenizer, data.head_val)
    head_lrs = np.geomspace(3e-4, 3e-2, sizes.trials).tolist()

    def cached() -> None:
        device = torch.device("cpu")
        features = {
            name: compute_features(model, tokens, 64, device)
            for name, tokens in (("train", train), ("val", val))
        }
        from tunelab.batching import FeatureBatches

        sources = (
            FeatureBatches(features["train"], train.labels),
            FeatureBatches(features["val"], val.labels),
        )
        for lr in head_lrs:
            _trial(model, data, sizes, lr, *sources)

    timed_trials = head_lrs[:: max(1, sizes.trials // sizes.recompute_trials)]
    timed_trials = timed_trials[: sizes.recompute_trials]

    def recomputed() -> None:
        for lr in timed_trials:
            _trial(model, data, sizes, lr, train, val)

    cached_seconds, _ = timed(cached)
    log(f"  {sizes.trials} head trials, cached features: {cached_seconds:.1f}s")
    measured, _ = timed(recomputed)
    recomputed_seconds = measured * sizes.trials / len(timed_trials)
    log(
        f"  {len(timed_trials)} head trials recomputing embeddings: {measured:.1f}s "
        f"(x{sizes.trials / len(timed_trials):g} = {recomputed_seconds:.1f}s)"
    )
    name = (
        f"2. feature extraction, {sizes.trials} head trials x {sizes.head_epochs} epochs, "
        f"{len(train)}+{len(val)} texts: recompute / cached time (recompute side: "
        f"{len(timed_trials)} of {sizes.trials} trials timed, scaled)"
    )
    return [
        ratio_row(
            name,
            cached_seconds,
            recomputed_seconds,
            "s",
            ">= 50",
            ratio=recomputed_seconds / cached_seconds,
        )
    ]


def _trial(model, data: BenchData, sizes: Sizes, head_lr: float, train, val) -> None:
    """Train a fresh head (backbone frozen) for ``head_epochs`` epochs."""
    torch.manual_seed(0)
    model.head = ClassificationHead(model.head.net[-1].in_features, len(data.labels))
    _, groups, plans = apply_strategy(model, strategy_config("feature_extraction"))
    cfg = TrainConfig(
        epochs=sizes.head_epochs,
        batch_size=BATCH_SIZE,
        head_lr=head_lr,
        device="cpu",
        early_stopping={"enabled": False},
    )
    Trainer(model, groups, plans, cfg, train, val, ClassificationObjective(data.labels)).fit()
