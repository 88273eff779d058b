"""Multi-process training (``torchrun`` / ``accelerate launch``): one process owns the
run directory and the console.

Every process runs the same :func:`tunelab.fine_tune` (accelerate wraps the model in
DDP and each process takes every n-th batch). Only the main process writes the run
directory and prints; the others write into a private scratch directory that is
removed when they finish, so no two processes ever clear, write or rename the same
path (two ranks writing one run directory crashed with "Directory not empty").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def process_rank() -> int:
    """This process's global rank as the launcher set it (0 when not launched)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Whether this process owns the run directory and the console."""
    return process_rank() == 0


@contextmanager
def worker_run_dir(run_dir: Path, resume: bool) -> Iterator[Path]:
    """A private directory standing in for ``run_dir`` in a non-main process.

    On ``resume`` it starts as a copy of ``run_dir`` (config, history and the last
    checkpoint) so the worker resumes from the same step as the main process.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f"tunelab-rank{process_rank()}-"))
    try:
        if resume and run_dir.is_dir():
            shutil.copytree(run_dir, scratch, dirs_exist_ok=True)
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
