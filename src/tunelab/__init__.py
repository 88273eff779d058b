"""tunelab: fine-tune pre-trained models with the right transfer strategy.

Public API::

    import tunelab
    result = tunelab.fine_tune("configs/demo.yaml")
    model = tunelab.load(result.run_dir)
    model.predict(["how do I reset my password?"])
    tunelab.compare("configs/demo.yaml", output_dir="runs/compare")   # strategies vs scratch
    tunelab.search("configs/search_demo.yaml", trials=20)            # Optuna search
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names resolve on first use: ``import tunelab`` (and every CLI command, which imports
# ``tunelab.errors``) stays fast, and torch / transformers load only for what needs them.
_EXPORTS = {
    "CompareResult": "tunelab.comparison",
    "compare": "tunelab.comparison",
    "Config": "tunelab.config",
    "load_config": "tunelab.config",
    "TunelabError": "tunelab.errors",
    "search": "tunelab.hpsearch",
    "load": "tunelab.inference",
    "task_names": "tunelab.tasks",
    "list_models": "tunelab.models",
    "RunResult": "tunelab.run",
    "fine_tune": "tunelab.run",
}

if TYPE_CHECKING:
    from tunelab.comparison import CompareResult, compare
    from tunelab.config import Config, load_config
    from tunelab.errors import TunelabError
    from tunelab.hpsearch import search
    from tunelab.inference import load
    from tunelab.models import list_models
    from tunelab.run import RunResult, fine_tune
    from tunelab.tasks import task_names


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        return _submodule(name)
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def _submodule(name: str) -> Any:
    """``tunelab.summary`` etc. without importing it first, as when imports were eager."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'tunelab' has no attribute '{name}'") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "CompareResult",
    "Config",
    "RunResult",
    "TunelabError",
    "compare",
    "fine_tune",
    "list_models",
    "load",
    "load_config",
    "search",
    "task_names",
]
__version__ = "0.1.0"
