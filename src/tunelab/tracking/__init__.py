"""Experiment tracking: a run's config, metrics and files in MLflow and TensorBoard.

``train.report_to`` names the backends, as HF ``TrainingArguments.report_to`` does
(``none``, the default, logs nothing). Each backend is one module holding a
:class:`Tracker` subclass (and, where the library has nested runs, a ``Parent``) that
maps tunelab's events onto the library's own API:

* at the start: the resolved config, flattened (``train.lr``), as params;
* at each evaluation: the validation metrics (``val_<metric>``) at the optimizer step,
  and the history row before it (``train_loss``, ``lr``, ...);
* at the end: the final ``test_<metric>`` values and the run's files as artifacts
  (``model/`` too with ``train.log_model``); a run that fails is marked failed.

A comparison or a search is one parent run (:func:`parent_run`) with one child run per
strategy / trial. Children find their parent through environment variables, so a trial
in a subprocess worker nests just like one in this process.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from tunelab.callbacks import Callback
from tunelab.config import Config, TrainConfig
from tunelab.errors import ConfigError

BACKENDS = {"mlflow": "tunelab.tracking.mlflow", "tensorboard": "tunelab.tracking.tensorboard"}
# The run directory's files a tracker uploads when they exist (report.html: a run's own
# report, when ``tunelab report`` wrote one into it before a resume).
RUN_FILES = (
    "config.yaml",
    "metrics.json",
    "history.jsonl",
    "layers.json",
    "data_summary.json",
    "report.html",
)
INSTALL_HINT = "pip install 'tunelab[tracking]'"


def report_targets(train: TrainConfig) -> list[str]:
    """The backends ``train.report_to`` names, in order, without ``none``; ``all`` is
    every backend whose library is installed (as in HF ``report_to="all"``)."""
    chosen = train.report_to
    names = [chosen] if isinstance(chosen, str) else list(chosen)
    if "all" in names:
        names = [name for name in BACKENDS if _installed(name)]
    return [name for name in dict.fromkeys(names) if name != "none"]


def _installed(name: str) -> bool:
    try:
        backend(name)
    except ConfigError:
        return False
    return True


def backend(name: str) -> ModuleType:
    """The module of backend ``name``; ConfigError when its library is not installed."""
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as err:
        package = (err.name or name).split(".")[0]
        raise ConfigError(
            f"train.report_to: {name} needs the '{package}' package, which is not "
            f"installed; {INSTALL_HINT}, or drop {name} from train.report_to"
        ) from None


def flat_params(section: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested config dict as ``{"train.lr": "0.001", ...}``; lists as JSON."""
    flat: dict[str, str] = {}
    for key, value in section.items():
        if isinstance(value, dict) and value:
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return flat


def scalars(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of ``metrics`` (lists, dicts, strings and NaN left out)."""
    return {
        f"{prefix}{key}": float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def is_main_process() -> bool:
    """Only rank 0 of a multi-process run (torchrun / accelerate launch) logs."""
    return int(os.environ.get("RANK", "0")) == 0


class Tracker(Callback):
    """One backend's record of one run; subclasses implement the ``_``-prefixed methods.

    Saved in checkpoints like any callback (``state_dict``), so a resumed run logs each
    history row once.
    """

    def __init__(self, cfg: Config, run_dir: Path) -> None:
        self.cfg, self.run_dir = cfg, run_dir
        self.rows_logged = 0
        self.live_rows = 0  # rows whose validation metrics on_evaluate logged as they came

    # ------------------------------------------------------------ backend API
    def start(self, resume: bool) -> None:
        """Open (or, on resume, reopen) the run and log the config."""
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Log numbers at an optimizer step."""
        raise NotImplementedError

    def close(self, status: str, error: str = "") -> None:
        """End the run: ``FINISHED``, ``FAILED`` or ``KILLED`` (with the error's line)."""
        raise NotImplementedError

    def upload(self, files: list[Path], model_dir: Path | None) -> None:
        """Store the run's files (and model directory) with the run (default: nowhere)."""

    # ------------------------------------------------------------- callbacks
    def on_evaluate(self, trainer: Any, metrics: dict[str, float]) -> None:
        self._log_rows(trainer.state.history)
        self.log_metrics(scalars(metrics, "val_"), trainer.state.step)
        self.live_rows = len(trainer.state.history) + 1

    def _log_rows(self, history: list[dict]) -> None:
        """History rows not logged yet: the trainer appends a row after ``on_evaluate``
        (whose validation metrics are logged already); a solved head adds its one row
        without an evaluation callback."""
        for index, row in enumerate(history[self.rows_logged :], self.rows_logged):
            numbers = scalars(row)
            numbers.pop("step", None)
            if index < self.live_rows:
                numbers = {k: v for k, v in numbers.items() if not k.startswith("val_")}
            self.log_metrics(numbers, int(row["step"]))
        self.rows_logged = len(history)

    def finish(self, metrics: dict[str, Any], history: list[dict]) -> None:
        """The last history row, the final test metrics, the run's files; then close."""
        self._log_rows(history)
        step = int(metrics.get("steps") or 0)
        self.log_metrics(scalars(metrics.get("test", {}), "test_"), step)
        files = [self.run_dir / name for name in RUN_FILES if (self.run_dir / name).is_file()]
        model_dir = self.run_dir / "model" if self.cfg.train.log_model else None
        self.upload(files, model_dir if model_dir and model_dir.is_dir() else None)
        self.close("FINISHED")

    def state_dict(self) -> dict[str, Any]:
        return {"rows_logged": self.rows_logged, "live_rows": self.live_rows}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows_logged, self.live_rows = state["rows_logged"], state["live_rows"]


class TrackedRun:
    """The trackers of one ``fine_tune`` run (none unless ``train.report_to`` names one).

    Created before anything is written, so a missing library is a ConfigError that
    leaves no run directory behind. Tracking never fails a finished run: an error while
    finishing is printed as a warning.
    """

    def __init__(self, cfg: Config, run_dir: Path, console: Console) -> None:
        targets = report_targets(cfg.train) if is_main_process() else []
        self.trackers: list[Tracker] = [backend(name).Tracker(cfg, run_dir) for name in targets]
        self.console = console

    @property
    def callbacks(self) -> list[Callback]:
        """What the trainer calls at each evaluation."""
        return list(self.trackers)

    def start(self, resume: bool) -> None:
        """Open every backend's run."""
        for tracker in self.trackers:
            tracker.start(resume)

    def finish(self, metrics: dict[str, Any], history: list[dict]) -> None:
        """Log the final metrics, the history rows not logged yet and the files; close."""
        for tracker in self.trackers:
            try:
                tracker.finish(metrics, history)
            except Exception as err:  # the run is done; its record is incomplete
                self.console.print(
                    f"[yellow]warning:[/] {type(tracker).__module__.rsplit('.', 1)[-1]}: "
                    f"the run's final metrics were not all logged ({type(err).__name__}: {err})"
                )

    def fail(self, err: BaseException) -> None:
        """Mark every run failed (killed, for Ctrl-C or a pruned trial)."""
        killed = isinstance(err, KeyboardInterrupt) or type(err).__name__ == "TrialPruned"
        line = (str(err).splitlines() or [type(err).__name__])[0][:500]
        for tracker in self.trackers:
            with contextlib.suppress(Exception):
                tracker.close("KILLED" if killed else "FAILED", line)


class ParentRun:
    """The parent of a comparison's or a search's runs, in the backends that nest runs.

    ``finish`` logs the summary's numbers and files; leaving the ``with`` block closes
    it (failed when an exception left the block).
    """

    def __init__(self, cfg: Config, output_dir: Path, kind: str) -> None:
        names = report_targets(cfg.train) if is_main_process() else []
        modules = [backend(name) for name in names]
        self.parents = [m.Parent(cfg, output_dir, kind) for m in modules if hasattr(m, "Parent")]

    def finish(self, metrics: dict[str, float], files: list[Path | None]) -> None:
        """Log the summary's numbers and the files that exist."""
        present = [f for f in files if f is not None and f.is_file()]
        for parent in self.parents:
            parent.finish(metrics, present)


@contextlib.contextmanager
def parent_run(cfg: Config, output_dir: Path, kind: str) -> Iterator[ParentRun]:
    """Open the parent run(s) of a ``compare`` or ``search`` in ``output_dir``.

    Inside the block, every ``fine_tune`` (in this process or a child process) logs as
    a child of it.
    """
    parent = ParentRun(cfg, output_dir, kind)
    with contextlib.ExitStack() as stack:
        for part in parent.parents:
            stack.enter_context(part)
        yield parent


def summary_metrics(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    """A parent run's numbers: ``<row name>.<column>`` for each row's finite numbers
    (``top_k.f1_macro_mean``), for one row per strategy or per trial."""
    return {
        f"{row[key]}.{column}": value
        for row in rows
        for column, value in scalars(row).items()
        if column != key
    }
