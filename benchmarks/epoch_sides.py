"""Whole multi-epoch runs of both trainers, timed per epoch, on any device and precision.

Rows 11 (first-epoch cost, CPU) and 12 (GPU, bf16) need what the one-epoch sides of
``sides.py`` do not give: every epoch's wall time, first epoch included, so that one-off
costs (cache builds, lazy initialisation, first-use kernels) show up, and a run on a GPU
under bf16 autocast. An epoch's wall time runs from one epoch's start to the next: the
tunelab side's includes its per-epoch validation (the HF side runs none, as in row 1)
and the first includes everything ``fit()`` / ``train()`` does before the first batch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
from common import BATCH_SIZE, LR, MAX_LENGTH, BenchData, model_path
from sides import encode

from tunelab.callbacks import Callback
from tunelab.config import TrainConfig
from tunelab.prefix_cache import FrozenPrefixCache
from tunelab.strategies import apply_strategy, strategy_config
from tunelab.tasks.classification import ClassificationObjective
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.model import build_text_classifier
from tunelab.trainer import Trainer

EPOCHS = 3
TOP_K = 2


@dataclass
class EpochRun:
    """Per-epoch wall times of one whole run, and what the rows read from it."""

    epochs: list[float]
    samples: int  # training examples seen (epochs x examples)
    cache_on: bool | None = None  # tunelab top_k: whether the prefix cache stayed on

    @property
    def seconds(self) -> float:
        """The whole run."""
        return sum(self.epochs)

    @property
    def samples_per_second(self) -> float:
        """Over the whole run, first epoch included."""
        return self.samples / self.seconds

    @property
    def first_epoch_cost(self) -> float:
        """What the first epoch takes beyond a later one (median of the later ones)."""
        return self.epochs[0] - statistics.median(self.epochs[1:])


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class _EpochClock(Callback):
    """Stamps each epoch's start (after the device finished the previous one)."""

    def __init__(self, device: str) -> None:
        self.device, self.starts = device, []

    def on_epoch_start(self, trainer, epoch: int) -> None:
        _sync(self.device)
        self.starts.append(time.perf_counter())


def _epochs(started: float, starts: list[float], ended: float) -> list[float]:
    """Epoch wall times from the run's start, the later epochs' starts and its end."""
    bounds = [started, *starts[1:], ended]
    return [b - a for a, b in zip(bounds, bounds[1:], strict=False)]


def tunelab_epochs(
    data: BenchData,
    strategy: str,
    device: str = "cpu",
    precision: str = "no",
    prefix_cache: bool = False,
    seed: int = 0,
) -> EpochRun:
    """``EPOCHS`` epochs of the tunelab trainer; ``fit()`` timed per epoch."""
    from accelerate.utils import set_seed

    set_seed(seed)
    model, tokenizer, _ = build_text_classifier(
        TextModelConfig(name=str(model_path()), max_length=MAX_LENGTH), len(data.labels)
    )
    options = {"k": TOP_K} if strategy == "top_k" else {}  # top-2 blocks + head
    plan_maker, groups, plans = apply_strategy(model, strategy_config(strategy, **options))
    train, val = encode(tokenizer, data.train), encode(tokenizer, data.val)
    clock = _EpochClock(device)  # first: a cache build belongs to its epoch
    cache = FrozenPrefixCache(model, groups, train, val) if prefix_cache else None
    cfg = TrainConfig(
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LR,
        seed=seed,
        device=device,
        mixed_precision=precision,
        early_stopping={"enabled": False},
    )
    callbacks = [clock, *plan_maker.callbacks(groups, plans), *([cache] if cache else [])]
    objective = ClassificationObjective(data.labels)
    trainer = Trainer(model, groups, plans, cfg, train, val, objective, callbacks=callbacks)
    _sync(device)
    started = time.perf_counter()
    trainer.fit()
    _sync(device)
    epochs = _epochs(started, clock.starts, time.perf_counter())
    on = None if cache is None else cache.disabled_reason is None
    return EpochRun(epochs, EPOCHS * len(train), on)


def hf_epochs(
    data: BenchData, device: str = "cpu", bf16: bool = False, top_k: int | None = None
) -> EpochRun:
    """``EPOCHS`` epochs of ``transformers.Trainer`` (HF defaults + dynamic padding, no
    eval or saving, as row 1). ``top_k``: only the top ``top_k`` blocks and the head
    train (the rest ``requires_grad=False``), as a user would do top-k with it."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )
    from transformers import Trainer as HFTrainer

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.starts: list[float] = []

        def on_epoch_begin(self, args, state, control, **kwargs):
            _sync(device)
            self.starts.append(time.perf_counter())

    set_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path()))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path()), num_labels=len(data.labels)
    )
    if top_k is not None:
        _train_top_only(model, top_k)
    texts, labels = data.train
    enc = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
    rows = [{**{key: enc[key][i] for key in enc}, "labels": labels[i]} for i in range(len(texts))]
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf-bench-"),
        per_device_train_batch_size=BATCH_SIZE,
        num_train_epochs=EPOCHS,
        learning_rate=LR,
        seed=0,
        bf16=bf16,
        report_to=[],
        use_cpu=device == "cpu",
        dataloader_num_workers=0,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    clock = Clock()
    trainer = HFTrainer(
        model=model,
        args=args,
        train_dataset=rows,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=[clock],
    )
    _sync(device)
    started = time.perf_counter()
    trainer.train()
    _sync(device)
    return EpochRun(_epochs(started, clock.starts, time.perf_counter()), EPOCHS * len(rows))


def _train_top_only(model: torch.nn.Module, top_k: int) -> None:
    encoder = model.base_model
    blocks = encoder.encoder.layer
    for module in [encoder.embeddings, *blocks[: len(blocks) - top_k]]:
        module.requires_grad_(False)
