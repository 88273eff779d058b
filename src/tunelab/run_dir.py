"""The run directory's file names and the model card: one place for writers and readers.

A run directory holds ``config.yaml``, ``status.json``, ``history.jsonl``,
``data_summary.json``, ``layers.json``, ``metrics.json``, ``checkpoints/`` and
``model/``; ``model/tunelab_model.json`` (the model card) names the task and what its
loader needs. See docs/run_dir.md.

Its life cycle is here too: which directory a run writes (:func:`choose_run_dir`),
whether it may (:func:`check_run_dir`: never two runs mixed in one, ``--resume`` only
with the same config), and its ``status.json`` from "running" to "finished" or
"failed" with the reason (:func:`start_run_dir`, :func:`mark_failed`).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from tunelab.config import DEFAULT_TASK, Config, load_config
from tunelab.errors import RunDirError
from tunelab.io import existing_dir, write_json

MODEL_DIR = "model"
MODEL_CARD = "tunelab_model.json"


def model_dir_of(path: Path) -> Path:
    """The ``model/`` directory of a run directory (or ``path`` itself when it is one)."""
    for candidate in (path / MODEL_DIR, path):
        if (candidate / MODEL_CARD).is_file():
            return candidate
    raise RunDirError(
        f"{path}: no trained model found (expected {path}/{MODEL_DIR}/{MODEL_CARD}); "
        "is this a finished tunelab run directory?"
    )


def read_model_card(model_dir: Path) -> dict[str, Any]:
    """The model card saved beside the weights (task, labels, loading options)."""
    card = model_dir / MODEL_CARD
    if not card.is_file():
        raise RunDirError(f"{model_dir}: no {MODEL_CARD}; is this a tunelab run's model/ dir?")
    try:
        data = json.loads(card.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RunDirError(f"{card}: not valid JSON; the run's model directory is damaged") from None
    data.setdefault("task", DEFAULT_TASK)  # cards written before tasks were named
    return data


def write_model_card(model_dir: Path, card: dict[str, Any]) -> None:
    """Write the model card into a (temporary) model directory."""
    (model_dir / MODEL_CARD).write_text(json.dumps(card, indent=2))


def mark_failed(run_dir: Path, err: BaseException) -> None:
    """A run that stopped on an error (or Ctrl-C) never stays "running"."""
    reason = "interrupted" if isinstance(err, KeyboardInterrupt) else f"{type(err).__name__}: {err}"
    # A directory that is gone or read-only has nothing more to record.
    with contextlib.suppress(OSError):
        write_json(
            run_dir / "status.json",
            {"state": "failed", "reason": reason.splitlines()[0][:500], "failed_at": now()},
        )


def choose_run_dir(cfg: Config, output_dir: str | Path | None) -> Path:
    if output_dir is not None:
        return Path(output_dir)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg.strategy.name}-{stamp}"


def check_run_dir(
    run_dir: Path, cfg: Config, resume: bool, overwrite: bool, console: Console
) -> bool:
    """Refuse to mix two runs in one directory; ``--resume`` needs the same config.

    A run that stopped before its first checkpoint (killed, or refused by a check made
    once training starts) holds nothing to protect or resume: it starts over, with or
    without ``--resume``.

    Returns:
        Whether to resume from the directory's last checkpoint.
    """
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other; pass one of them")
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"--output {run_dir} is a file, not a directory; choose another --output")
    holds_run = (run_dir / "config.yaml").is_file()
    if holds_run and not _has_progress(run_dir):
        console.print(f"{escape(str(run_dir))}: its run stopped before a checkpoint; starting over")
        return False
    if resume:
        if not holds_run:
            raise RunDirError(f"--resume: {run_dir} holds no run to resume; drop --resume")
        saved = load_config(run_dir / "config.yaml")
        if saved != cfg:
            key = _first_difference(saved.to_dict(), cfg.to_dict())
            raise RunDirError(
                f"--resume: {run_dir} was run with a different config ({key} differs); "
                "resume with the same config or choose another --output"
            )
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        if holds_run and overwrite:
            return
        what = "holds another run" if holds_run else "is not empty and is not a tunelab run"
        hint = "pass --resume to continue it, --overwrite to replace it, or " if holds_run else ""
        raise RunDirError(f"output directory {run_dir} {what}; {hint}choose another --output")
    return resume


def _has_progress(run_dir: Path) -> bool:
    """Whether a run directory holds anything worth keeping: a checkpoint or a model."""
    last = existing_dir(run_dir / "checkpoints" / "last")
    return last is not None or (run_dir / "model").exists()


def _first_difference(a: dict, b: dict, prefix: str = "") -> str:
    for key in sorted(set(a) | set(b)):
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            found = _first_difference(left, right, f"{prefix}{key}.")
            if found:
                return found
        elif left != right:
            return f"{prefix}{key}"
    return ""


def start_run_dir(run_dir: Path, cfg: Config, resume: bool) -> None:
    if not resume and run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        from tunelab.io import write_text

        write_text(run_dir / "config.yaml", _yaml(cfg))
    write_json(run_dir / "status.json", {"state": "running", "started_at": now()})


def _yaml(cfg: Config) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")
