"""The measured part of a run's ``metrics.json``, read from a finished training
(:class:`tunelab.run.Trained`): test scores with prediction latency, parameter counts,
speed and peak memory. Nothing here trains or writes."""

from __future__ import annotations

import resource
import sys
from typing import TYPE_CHECKING

import torch

from tunelab.config import Config
from tunelab.layers import count_params
from tunelab.metrics import measure_latency
from tunelab.tasks import BuiltModel, Task

if TYPE_CHECKING:  # run.py imports this module
    from tunelab.run import Trained

LATENCY_SAMPLES = 50


def measured_metrics(cfg: Config, trained: Trained, task: Task, built: BuiltModel, splits) -> dict:
    """The run's metrics: validation as trained, test scored with latency, sizes, speed."""
    trainer, state, model = trained.trainer, trained.state, trained.model
    test = trainer.evaluate(trained.data["test"]).metrics
    predictor = task.predictor(model, built, splits, cfg, trainer.device)
    inputs = task.latency_inputs(splits, LATENCY_SAMPLES)
    test.update(measure_latency(lambda item: predictor.predict([item]), inputs))
    trainable, total = count_params(model)
    epochs_run = len(state.epoch_seconds)
    return {
        "validation": trained.validation,
        "test": test,
        "trainable_params": trainable,
        "total_params": total,
        "train_seconds": state.train_seconds,
        "seconds_per_epoch": state.train_seconds / max(epochs_run, 1),
        "train_tokens_per_second": _tokens_per_second(
            trained.data["train"], state, trainer.steps_per_epoch
        ),
        "epochs_run": epochs_run,
        "steps": state.step,
        "best_epoch": state.best_epoch,
        "stopped_early": state.stopped_early,
        "nonfinite_steps_skipped": state.nonfinite_skipped,
        "precision": trainer.precision,
        "peak_memory_mb": _peak_memory_mb(),
        "strategy": cfg.strategy.name,
        "model": cfg.model.name,
        "pretrained": cfg.model.pretrained,
        "task": cfg.task,
        "objective": trainer.objective.describe(),
    }


def _tokens_per_second(train, state, steps_per_epoch: int) -> float | None:
    """Training throughput in tokens (padding excluded) for token sources, else None."""
    lengths = getattr(train, "lengths", None)
    if lengths is None or not state.train_seconds:
        return None
    epochs = state.step / max(steps_per_epoch, 1)
    return float(sum(lengths)) * epochs / state.train_seconds


def _peak_memory_mb() -> float:
    """Peak GPU memory when on CUDA, else this process's peak resident set size."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated() > 0:
        return torch.cuda.max_memory_allocated() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
