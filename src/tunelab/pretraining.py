"""``tunelab pretrain``: build a backbone by self-supervised training, for tasks whose
pre-trained weights ship nowhere, and save it where ``model.name`` can point."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from tunelab.config import Config
from tunelab.errors import ConfigError
from tunelab.io import replace_dir


def pretrain(
    cfg: Config, output_dir: str | Path, overwrite: bool = False, console: Console | None = None
) -> Path:
    """Run the task's self-supervised pre-training into ``output_dir``.

    The task writes into a temp directory that replaces ``output_dir`` only when it
    finished, so an interrupted run leaves no half-written backbone behind.

    Raises:
        ConfigError: ``output_dir`` is a file, or a non-empty directory without
            ``overwrite``; or the task has no pre-training.
    """
    from tunelab.tasks import get_task

    target = Path(output_dir)
    if target.is_file():
        raise ConfigError(f"--output {target} is a file; give a directory for the backbone")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ConfigError(f"--output {target} is not empty; pass --overwrite to replace it")
    task = get_task(cfg.task)
    console = console or Console()
    target.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(target, lambda tmp: task.pretrain(cfg, tmp, console))
    return target
