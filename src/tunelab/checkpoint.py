"""Checkpoint files: weights in safetensors, the rest loadable with ``weights_only=True``.

Nothing here unpickles arbitrary objects: a checkpoint from an untrusted source can at
worst hold wrong numbers, never run code.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from tunelab.errors import RunDirError
from tunelab.io import existing_dir, replace_dir

WEIGHTS = "weights.safetensors"
STATE = "trainer_state.pt"


def _contiguous(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in weights.items()}


def save_weights(directory: Path, weights: dict[str, torch.Tensor]) -> None:
    """Atomically write a directory holding ``weights.safetensors``."""
    replace_dir(directory, lambda tmp: save_file(_contiguous(weights), str(tmp / WEIGHTS)))


def load_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The tensors saved by :func:`save_weights`."""
    found = existing_dir(directory)
    if found is None or not (found / WEIGHTS).is_file():
        raise RunDirError(f"{directory}: no checkpoint weights found")
    return load_file(str(found / WEIGHTS))


def save_training_state(directory: Path, weights: dict[str, torch.Tensor], state: dict) -> None:
    """Weights + optimizer/scheduler/RNG/callback state, swapped in atomically."""

    def fill(tmp: Path) -> None:
        save_file(_contiguous(weights), str(tmp / WEIGHTS))
        torch.save(state, tmp / STATE)

    replace_dir(directory, fill)


def load_training_state(directory: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Inverse of :func:`save_training_state` (safe loading only)."""
    found = existing_dir(directory)
    if found is None or not (found / STATE).is_file():
        raise RunDirError(
            f"{directory}: no checkpoint to resume from; run without --resume to start over"
        )
    return load_file(str(found / WEIGHTS)), torch.load(found / STATE, weights_only=True)


def get_rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states in types ``weights_only`` loading accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` captured."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


def json_line(row: dict) -> str:
    """One history row as a JSON line."""
    return json.dumps(row) + "\n"
