"""One trial in this process: draw its parameters, fine-tune with pruning, record it.

Each trial is an ordinary run directory under ``<output>/trials/trial-<n>/``, trained by
:func:`tunelab.fine_tune` with a callback that reports every epoch's validation metric to
the pruner. The ``inprocess`` isolation mode runs trials here in a loop and frees their
memory between them; :class:`ProcessLog` keeps what each trial left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import psutil
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from tunelab.callbacks import Callback
from tunelab.config import Config
from tunelab.errors import TunelabError
from tunelab.hpsearch.space import Param, apply_params
from tunelab.io import write_json
from tunelab.run import fine_tune

FEATURE_CACHE = "feature_cache"


@dataclass
class ProcessLog:
    """What this process did: which trials it ran, and its memory after each."""

    isolation: str
    started: float = field(default_factory=time.perf_counter)
    trials_run: list[int] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    consecutive_failures: int = 0
    last_error: str = ""

    def record(self, trial: FrozenTrial | None, error: str = "") -> None:
        """Add one finished trial (None: the worker died before it had one)."""
        if trial is not None:
            self.trials_run.append(trial.number)
        self.rss_mb.append(psutil.Process().memory_info().rss / 2**20)
        self.peak_rss_mb.append(peak_rss_mb())
        failed = trial is None or trial.state == TrialState.FAIL
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        if failed:
            self.last_error = error or (trial.user_attrs.get("error", "") if trial else "")

    def to_dict(self) -> dict[str, Any]:
        """The ``this_process`` part of ``search_summary.json``."""
        first = self.rss_mb[0] if self.rss_mb else None
        return {
            "isolation": self.isolation,
            "host": socket.gethostname(),
            "trials_run": len(self.trials_run),
            "wall_seconds": round(time.perf_counter() - self.started, 1),
            "rss_mb_after_each_trial": [round(v, 1) for v in self.rss_mb],
            "rss_ratio_last_to_first": round(self.rss_mb[-1] / first, 3) if first else None,
            "rss_ratio_max_to_first": round(max(self.rss_mb) / first, 3) if first else None,
            "peak_rss_mb_after_first_trial": round(self.peak_rss_mb[0], 1) if first else None,
            "peak_rss_mb_after_last_trial": round(self.peak_rss_mb[-1], 1) if first else None,
        }


class OptunaPruning(Callback):
    """Report each epoch's validation metric to the trial; stop the run when it is pruned.

    Raises ``optuna.TrialPruned`` out of the trainer; :func:`fine_tune` lets it through
    and the study records the trial as pruned. Only epoch-end evaluations are reported:
    epochs are comparable across batch sizes, optimizer steps are not.
    """

    def __init__(self, trial: optuna.Trial, metric: str) -> None:
        self.trial, self.metric = trial, metric

    def on_evaluate(self, trainer: Any, metrics: dict[str, float]) -> None:
        if trainer.state.batch_in_epoch != 0:
            return
        epoch, value = trainer.state.epoch, float(metrics[self.metric])
        self.trial.report(value, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} ({self.metric} {value:.4f})")


class TrialRunner:
    """Runs one trial of the study in this process: draw, fine-tune with pruning, record.

    Both isolation modes use it: ``inprocess`` calls it in a loop, a subprocess worker
    calls it once. ``feature_memory`` (in-process) and the shared on-disk feature cache
    make every feature-extraction trial after the first skip the backbone.
    """

    def __init__(
        self,
        base: Config,
        params: list[Param],
        output_dir: Path,
        feature_memory: dict | None = None,
        launch_id: str | None = None,
    ) -> None:
        self.base, self.params, self.output_dir = base, params, output_dir
        self.metric = base.search.metric
        self.feature_memory, self.launch_id = feature_memory, launch_id
        self.cache_dir = Path(base.strategy.cache_dir or output_dir / FEATURE_CACHE)

    def run_one(self, study: optuna.Study) -> FrozenTrial:
        """Ask the study for a trial (a queued one first), run it, return it finished."""
        self.number = -1
        study.optimize(self.objective, n_trials=1, catch=(Exception,), gc_after_trial=True)
        return trial_by_number(study, self.number)

    def objective(self, trial: optuna.Trial) -> float:
        """The value of one trial: the validation metric of its best epoch."""
        self.number = trial.number
        run_dir = self.output_dir / "trials" / f"trial-{trial.number}"
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        trial.set_user_attr("run_dir", str(run_dir))
        if self.launch_id:
            trial.set_user_attr("launch_id", self.launch_id)
        cached_before = _count_files(self.cache_dir)
        cfg = None
        try:
            cfg = apply_params(self.base, self.params, trial, source=f"trial {trial.number}")
            cfg.strategy.cache_dir = str(self.cache_dir)
            with _trial_log(run_dir.with_suffix(".log")) as console:
                result = fine_tune(
                    cfg,
                    run_dir,
                    overwrite=True,
                    console=console,
                    feature_memory=self.feature_memory,
                    callbacks=[OptunaPruning(trial, self.metric)],
                )
        except optuna.TrialPruned as pruned:
            write_json(run_dir / "status.json", {"state": "pruned", "reason": str(pruned)})
            raise
        except Exception as err:
            text = str(err) if isinstance(err, TunelabError) else f"{type(err).__name__}: {err}"
            trial.set_user_attr("error", text[:500])
            raise
        finally:
            self._record(trial, cfg, cached_before)
        return float(result.metrics["validation"][self.metric])

    def _record(self, trial: optuna.Trial, cfg: Config | None, cached_before: int) -> None:
        trial.set_user_attr("peak_rss_mb", round(peak_rss_mb(), 1))
        if cfg is not None and cfg.strategy.name == "feature_extraction":
            computed = _count_files(self.cache_dir) > cached_before
            trial.set_user_attr("features", "computed" if computed else "cached")


@contextlib.contextmanager
def _trial_log(path: Path) -> Iterator[Console]:
    """The trial's progress (what ``tunelab run`` prints) goes to ``trials/trial-<n>.log``."""
    with open(path, "a") as handle:
        yield Console(file=handle, width=120, force_terminal=False, soft_wrap=True)


def _count_files(directory: Path) -> int:
    return sum(1 for _ in directory.glob("*.safetensors")) if directory.is_dir() else 0


def trial_by_number(study: optuna.Study, number: int) -> FrozenTrial:
    """The study's trial with this number, as stored (the isolation side reads it too)."""
    return next(t for t in reversed(study.get_trials(deepcopy=False)) if t.number == number)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def release_memory() -> None:
    """Give a finished in-process trial's memory back: objects, CUDA cache, malloc arenas."""
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
