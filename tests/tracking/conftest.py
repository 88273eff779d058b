"""Tracking tests read back what the real MLflow and TensorBoard libraries stored."""

from __future__ import annotations

from pathlib import Path

import pytest

MISSING = "not installed: pip install 'tunelab[tracking]'"
pytest.importorskip("mlflow", reason=f"mlflow {MISSING}")
pytest.importorskip("tensorboard", reason=f"tensorboard {MISSING}")


def mlflow_client(output_dir: Path):
    """A client on the local store a run, comparison or search keeps in ``output_dir``."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(f"sqlite:///{output_dir.resolve() / 'mlflow.db'}")


def all_runs(client) -> list:
    """Every run of the ``tunelab`` experiment, oldest first."""
    experiment = client.get_experiment_by_name("tunelab")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])


def scalar_events(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` from TensorBoard's own event reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made once (creating them takes seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store_in(empty_store):
    """``store_in(directory)``: put a copy of the empty store where tunelab looks for it."""
    import shutil

    def copy(directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(empty_store, directory / "mlflow.db"))

    return copy
