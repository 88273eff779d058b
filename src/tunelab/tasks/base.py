"""The contract of a task: what differs between text and image classification.

The run path (:func:`tunelab.run.fine_tune`) is the same for every task: data, model,
strategy over layer groups, trainer, metrics, run directory. A :class:`Task` supplies
the parts that depend on the kind of input:

* ``prepare_data(cfg)``: clean, split data; the splits carry ``labels``, ``summary``
  (``data_summary.json``) and ``warnings``.
* ``build_model(cfg, num_classes)``: a :class:`BuiltModel` whose classifier has
  ``.backbone``, ``.head``, ``.encode(**inputs)`` (pooled features) and
  ``forward(**inputs)`` / ``forward(features=...)``.
* ``batch_sources(...)``: per split, an object the trainer iterates (``__len__``,
  ``labels``, ``collate``, ``epoch_batches``, ``eval_batches``; see ``batching.py``).
* ``feature_cache_key(...)``: the identity of a split's pooled features, for the
  feature-extraction cache.
* ``predictor`` / ``examples`` / ``save_model`` / ``load_predictor``: inference on
  raw inputs, and the self-describing ``model/`` directory that ``tunelab.load`` reads.
* ``describe_layers(name)``: the layer groups of a model, for ``tunelab layers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from rich.console import Console

from tunelab.config import Config
from tunelab.errors import ConfigError

SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class BuiltModel:
    """A classifier, what turns raw inputs into its inputs, and where its weights came from.

    Attributes:
        model: the classifier (``.backbone``, ``.head``, ``.encode``, ``forward``).
        processor: a tokenizer (text) or an ``ImagePreprocessing`` (images).
        source: the local weights directory or file (None: random initialisation).
    """

    model: torch.nn.Module
    processor: Any
    source: Path | None


class Task:
    """Base class; one subclass per task, registered by its config name."""

    name: ClassVar[str] = ""
    noun: ClassVar[str] = "examples"  # what one example is called in messages

    def prepare_data(self, cfg: Config) -> Any:
        """Train / validation / test splits with ``labels``, ``summary`` and ``warnings``."""
        raise NotImplementedError

    def build_model(self, cfg: Config, num_classes: int) -> BuiltModel:
        """The backbone with its weights and a fresh head for ``num_classes``."""
        raise NotImplementedError

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits: Any, cached: bool, console: Console
    ) -> dict[str, Any]:
        """Batch sources for train / validation / test (``cached``: features to be cached)."""
        raise NotImplementedError

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits: Any, split: str) -> str:
        """A key that changes whenever the pooled features of ``split`` would."""
        raise NotImplementedError

    def predictor(
        self,
        model: torch.nn.Module,
        built: BuiltModel,
        labels: list[str],
        cfg: Config,
        device: torch.device | str,
    ) -> Any:
        """A predictor over raw inputs (texts, images) for the trained ``model``."""
        raise NotImplementedError

    def examples(self, split: Any) -> tuple[list, list[str]]:
        """A split's raw inputs (what ``predictor.predict`` takes) and their labels."""
        raise NotImplementedError

    def take(self, split: Any, rows: list[int]) -> Any:
        """The examples of ``split`` at ``rows``, as a split of the same kind."""
        raise NotImplementedError

    def concat(self, first: Any, second: Any) -> Any:
        """One split holding ``first``'s examples, then ``second``'s."""
        raise NotImplementedError

    def overlap_keys(self, split: Any) -> list[str]:
        """One key per example, equal for examples that count as duplicates across splits."""
        raise NotImplementedError

    def latency_inputs(self, splits: Any, limit: int) -> list:
        """Up to ``limit`` raw test inputs, for single-example latency."""
        return self.examples(splits.test)[0][:limit]

    def save_model(
        self,
        model_dir: Path,
        model: torch.nn.Module,
        built: BuiltModel,
        labels: list[str],
        cfg: Config,
    ) -> Path:
        """Write the reloadable ``model/`` directory."""
        raise NotImplementedError

    def load_predictor(self, model_dir: Path, card: dict, device: str) -> Any:
        """Rebuild the predictor from a ``model/`` directory and its model card."""
        raise NotImplementedError

    def describe_layers(self, model_name: str) -> list[dict]:
        """``[{"name", "params"}]`` per layer group (with a 2-class head)."""
        raise NotImplementedError


_TASKS: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its ``name``."""
    _TASKS[cls.name] = cls()
    return cls


def get_task(name: str) -> Task:
    """The registered task called ``name`` (the config's ``task``)."""
    if name not in _TASKS:
        raise ConfigError(f"task '{name}' is unknown; choose one of {', '.join(sorted(_TASKS))}")
    return _TASKS[name]
