"""MLflow: one run per fine-tuning run, nested under a comparison's or a search's run.

The store is ``MLFLOW_TRACKING_URI`` when set (a server, a database), else a SQLite
file ``mlflow.db`` in the output directory, with artifacts beside it in
``mlartifacts/``: no server is needed, and
``mlflow ui --backend-store-uri sqlite:///<output>/mlflow.db`` shows the runs. The
experiment is ``MLFLOW_EXPERIMENT_NAME`` (default ``tunelab``). Each run directory
keeps its run's id in ``mlflow_run.json``, so ``--resume`` continues the same run.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from tunelab.config import Config
from tunelab.io import write_json
from tunelab.tracking import Tracker as BaseTracker
from tunelab.tracking import flat_params

URI_ENV = "MLFLOW_TRACKING_URI"  # MLflow's own variable
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"  # MLflow's own variable
PARENT_ENV = "TUNELAB_MLFLOW_PARENT_RUN_ID"  # set by a parent run for its children
DEFAULT_EXPERIMENT = "tunelab"
RUN_FILE = "mlflow_run.json"
BATCH = 100  # MLflow takes at most 100 params per log_batch call
MAX_PARAM_CHARS = 6000  # MLflow's limit on a param value

# Creating the SQLite store logs each schema migration at INFO: noise on a console.
for _logger in ("mlflow.store.db.utils", "alembic.runtime.migration"):
    logging.getLogger(_logger).setLevel(logging.WARNING)


def store_uri(output_dir: Path) -> str:
    """Where runs go: ``MLFLOW_TRACKING_URI``, else ``<output_dir>/mlflow.db``."""
    return os.environ.get(URI_ENV) or f"sqlite:///{(output_dir / 'mlflow.db').resolve()}"


def experiment_id(client: MlflowClient, output_dir: Path) -> str:
    """The experiment's id, created on first use (artifacts inside ``output_dir`` when
    the store is the local default, else wherever the store keeps them)."""
    name = os.environ.get(EXPERIMENT_ENV) or DEFAULT_EXPERIMENT
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    local = URI_ENV not in os.environ
    location = (output_dir / "mlartifacts").resolve().as_uri() if local else None
    return client.create_experiment(name, artifact_location=location)


def log_params(client: MlflowClient, run_id: str, params: dict[str, str]) -> None:
    """All params, in batches of MLflow's maximum."""
    items = [Param(key, value[:MAX_PARAM_CHARS]) for key, value in params.items()]
    for start in range(0, len(items), BATCH):
        client.log_batch(run_id, params=items[start : start + BATCH])


def log_metrics(client: MlflowClient, run_id: str, metrics: dict[str, float], step: int) -> None:
    """Numbers at one step, in one call per batch."""
    now = int(time.time() * 1000)
    items = [Metric(key, value, now, step) for key, value in metrics.items()]
    for start in range(0, len(items), BATCH):
        client.log_batch(run_id, metrics=items[start : start + BATCH])


def _reopen(client: MlflowClient, saved: Path) -> str | None:
    """The run id saved in ``saved`` when that run is still in the store."""
    if not saved.is_file():
        return None
    run_id = json.loads(saved.read_text())["run_id"]
    try:
        client.update_run(run_id, status="RUNNING")
    except Exception:  # deleted, or another store: start a new run
        return None
    return run_id


class Tracker(BaseTracker):
    """A fine-tuning run as an MLflow run (a child run inside a compare or search)."""

    def start(self, resume: bool) -> None:
        saved = self.run_dir / RUN_FILE
        uri = json.loads(saved.read_text())["tracking_uri"] if resume and saved.is_file() else None
        self.client = MlflowClient(uri or store_uri(self.run_dir))
        self.run_id = _reopen(self.client, saved) if resume else None
        if self.run_id is not None:
            return
        parent = os.environ.get(PARENT_ENV)
        tags = {
            "tunelab.task": self.cfg.task,
            "tunelab.strategy": self.cfg.strategy.name,
            "tunelab.run_dir": str(self.run_dir.resolve()),
        }
        if parent:
            experiment = self.client.get_run(parent).info.experiment_id
            tags["mlflow.parentRunId"] = parent
        else:
            experiment = experiment_id(self.client, self.run_dir)
        run = self.client.create_run(experiment, run_name=self.run_dir.name, tags=tags)
        self.run_id = run.info.run_id
        write_json(saved, {"run_id": self.run_id, "tracking_uri": self.client.tracking_uri})
        log_params(self.client, self.run_id, flat_params(self.cfg.to_dict()))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        log_metrics(self.client, self.run_id, metrics, step)

    def upload(self, files: list[Path], model_dir: Path | None) -> None:
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        if model_dir is not None:
            self.client.log_artifacts(self.run_id, str(model_dir), "model")

    def close(self, status: str, error: str = "") -> None:
        if getattr(self, "run_id", None) is None:
            return
        if error:
            self.client.set_tag(self.run_id, "tunelab.error", error)
        self.client.set_terminated(self.run_id, status)


class Parent:
    """The run of a ``compare`` or ``search``: its base config, summary numbers and
    files; every run started while it is open is its child."""

    def __init__(self, cfg: Config, output_dir: Path, kind: str) -> None:
        self.cfg, self.output_dir, self.kind = cfg, Path(output_dir), kind
        self._env: dict[str, str | None] = {}

    def __enter__(self) -> Parent:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(store_uri(self.output_dir))
        saved = self.output_dir / RUN_FILE
        self.run_id = _reopen(self.client, saved)  # a re-run continues the same parent
        if self.run_id is None:
            run = self.client.create_run(
                experiment_id(self.client, self.output_dir),
                run_name=self.output_dir.name,
                tags={"tunelab.kind": self.kind, "tunelab.task": self.cfg.task},
            )
            self.run_id = run.info.run_id
            write_json(saved, {"run_id": self.run_id, "tracking_uri": self.client.tracking_uri})
            log_params(self.client, self.run_id, flat_params(self.cfg.to_dict()))
        for key, value in ((URI_ENV, self.client.tracking_uri), (PARENT_ENV, self.run_id)):
            self._env[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def finish(self, metrics: dict[str, float], files: list[Path]) -> None:
        """Log the summary's numbers and files."""
        log_metrics(self.client, self.run_id, metrics, 0)
        for path in files:
            self.client.log_artifact(self.run_id, str(path))

    def __exit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        for key, value in self._env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        killed = exc_type is KeyboardInterrupt
        status = "FINISHED" if exc_type is None else ("KILLED" if killed else "FAILED")
        self.client.set_terminated(self.run_id, status)
