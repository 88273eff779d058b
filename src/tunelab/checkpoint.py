"""Checkpoint files: weights in safetensors, the rest loadable with ``weights_only=True``.

Nothing here unpickles arbitrary objects: a checkpoint from an untrusted source can at
worst hold wrong numbers, never run code.
"""

from __future__ import annotations

import json
import pickle
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
    return load_file(str(found / WEIGHTS)), _load_plain_state(found / STATE)


def _load_plain_state(file: Path) -> dict:
    """``torch.load`` of tensors and plain values only, failing in one fixable line.

    ``weights_only`` refuses a pickle that would build any other object (and so could run
    code), but its multi-line message suggests ``weights_only=False``: the one thing not
    to do with a file that may come from someone else.

    Raises:
        RunDirError: the file holds other objects, or is truncated or corrupt.
    """
    try:
        return torch.load(file, weights_only=True)
    except pickle.UnpicklingError as err:
        raise RunDirError(
            f"{file}: refused to load: it holds objects other than tensors and plain values, "
            f"which could run code ({unpickling_detail(err)}); delete this checkpoint and "
            "run without --resume (tunelab writes weights as safetensors and plain state)"
        ) from None
    except (RuntimeError, EOFError, OSError) as err:  # a truncated or overwritten file
        raise RunDirError(
            f"{file}: not a readable checkpoint ({err.__class__.__name__}: "
            f"{first_line(err)}); delete this checkpoint and run without --resume"
        ) from None


def unpickling_detail(err: BaseException) -> str:
    """What ``weights_only`` loading refused, from the innermost error in the chain.

    torch wraps the useful part ("unsupported GLOBAL posix.system") in a paragraph about
    its defaults; the innermost error holds just that part.
    """
    while err.__cause__ is not None or err.__context__ is not None:
        err = err.__cause__ or err.__context__
    return first_line(err)


def refused_unpickling(err: BaseException) -> bool:
    """Whether ``err`` or an error it was raised from is a refused (unsafe) pickle."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, pickle.UnpicklingError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def first_line(err: BaseException) -> str:
    """The first non-empty line of an error's message: error messages here are one line."""
    return next((line.strip() for line in str(err).splitlines() if line.strip()), "")


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
