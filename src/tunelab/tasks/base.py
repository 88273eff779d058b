"""The contract of a task, and the registry of tasks.

The run path (:func:`tunelab.run.fine_tune`) is the same for every task: config, data,
model, strategy over layer groups, trainer, metrics, run directory. The core never
names a task; a :class:`Task` subclass in ``tunelab/tasks/<name>/`` supplies everything
that depends on the kind of input and output, and registers itself with
:func:`register_task` (one line in ``tunelab/tasks/__init__.py`` imports it). Every
abstract method below must be implemented; a task missing one fails at registration.

Config
    :meth:`sections`: the pydantic classes of the task's ``model``, ``data`` and
    ``train`` sections (subclasses of the core ones), so a key the task does not read is
    an error. ``objective_class`` names its metrics, so ``train.early_stopping.metric``
    is checked when the config is loaded.
Training
    :meth:`prepare_data` (splits with ``summary`` for ``data_summary.json`` and
    ``warnings``), :meth:`build_model` (a :class:`BuiltModel` whose ``model`` has the
    layer groups strategies plan over), :meth:`objective` (loss and metrics, see
    :class:`tunelab.objective.Objective`), :meth:`batch_sources` (per split, what the
    trainer iterates: ``__len__``, ``collate``, ``epoch_batches``, ``eval_batches``).
Shipping
    :meth:`predictor` / :meth:`save_model` / :meth:`load_predictor`: inference on raw
    inputs and the self-describing ``model/`` directory ``tunelab.load`` reads;
    :meth:`read_inputs` (``tunelab predict``), :meth:`request_inputs` (``serve``),
    :meth:`evaluate_source` (``tunelab evaluate``), :meth:`export_signature` (ONNX).
Optional hooks with defaults
    representativeness checks (:meth:`class_labels`, :meth:`input_sizes`),
    feature caching (:meth:`feature_cache_key`), continual updates (:meth:`take`,
    :meth:`concat`, :meth:`overlap_keys`, :meth:`examples`), self-training on
    ``data.unlabeled`` (:meth:`read_unlabeled`, :meth:`relabel`, with the continual
    hooks; :mod:`tunelab.self_training`), representation drift
    (:meth:`drift_embeddings`), a trainable pooled embedding (:meth:`embedding`),
    latency inputs, ``tunelab layers``, the task's own
    sections of ``report.html`` (:meth:`report_sections`), self-supervised pre-training
    of a backbone (:meth:`pretrain`, ``tunelab pretrain``), inputs made of named fields
    (:attr:`input_fields`, ``tunelab predict --<field> VALUE``), task-owned top-level
    config sections (``TaskSections.extra``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import BaseModel
from rich.console import Console

from tunelab.config import Config, DataConfig, ModelConfig, TrainConfig
from tunelab.errors import ConfigError
from tunelab.objective import Objective

if TYPE_CHECKING:
    from tunelab.report.sections import ReportSection

SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class BuiltModel:
    """A model, what turns raw inputs into its inputs, and where its weights came from.

    Attributes:
        model: the trainable module (``forward(**batch)`` returns the outputs the
            objective scores; strategies plan over its layer groups).
        processor: a tokenizer (text) or an ``ImagePreprocessing`` (images).
        source: the local weights directory or file (None: random initialisation).
    """

    model: torch.nn.Module
    processor: Any
    source: Path | None


@dataclass(frozen=True)
class TaskSections:
    """The config classes a task contributes.

    ``extra`` holds top-level sections only this task reads (e.g. a forecaster's
    ``forecast:``), name -> pydantic class; a config of another task that sets one is
    refused like any unknown key.
    """

    model: type[ModelConfig]
    data: type[DataConfig]
    train: type[TrainConfig]
    extra: dict[str, type[BaseModel]] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportSignature:
    """What ONNX export needs: the module mapping named tensors to outputs, and two
    sample batches of different shapes (dims named in ``dynamic`` vary)."""

    module: torch.nn.Module
    samples: list[dict[str, torch.Tensor]]
    dynamic: dict[str, dict[int, str]]
    output_name: str = "logits"


class Task(ABC):
    """Base class; one subclass per task, registered by its config name."""

    name: ClassVar[str] = ""
    noun: ClassVar[str] = "examples"  # what one example is called in messages
    # What one row of its batches is, where that is not one example (QA: a window of
    # a question's context); messages that count model inputs use it.
    row_noun: ClassVar[str] = ""
    input_key: ClassVar[str] = "input"  # the key of a raw input in predict records
    request_key: ClassVar[str] = "inputs"  # the ``serve`` request body's key for a batch
    request_is_text: ClassVar[bool] = True  # its items are texts (bounded by --max-chars)
    # Named parts of one input, given to ``tunelab predict`` as ``--<field> VALUE``
    # options (e.g. a question and its context); () when an input is one value.
    input_fields: ClassVar[tuple[str, ...]] = ()
    objective_class: ClassVar[type[Objective]]
    # Strategies that make sense for the task (None: all); e.g. a language model has no
    # new head to train on cached features.
    strategies: ClassVar[tuple[str, ...] | None] = None
    # Whether runs also score the untouched pretrained model (``metrics.json`` "baseline"),
    # which ``compare`` then shows as the ``base`` row.
    has_baseline: ClassVar[bool] = False

    # ---------------------------------------------------------------- config
    @abstractmethod
    def sections(self) -> TaskSections:
        """The classes of this task's ``model``, ``data`` and ``train`` sections."""

    # -------------------------------------------------------------- training
    @abstractmethod
    def prepare_data(self, cfg: Config) -> Any:
        """Train / validation / test splits with ``summary`` and ``warnings``."""

    @abstractmethod
    def build_model(self, cfg: Config, splits: Any) -> BuiltModel:
        """The backbone with its weights and whatever the task puts on top."""

    @abstractmethod
    def objective(self, cfg: Config, splits: Any) -> Objective:
        """The loss and metrics of this run (e.g. class weights from the train split)."""

    @abstractmethod
    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits: Any, cached: bool, console: Console
    ) -> dict[str, Any]:
        """Batch sources for train / validation / test (``cached``: features to be cached)."""

    # -------------------------------------------------------------- shipping
    @abstractmethod
    def predictor(
        self, model: torch.nn.Module, built: BuiltModel, splits: Any, cfg: Config, device: Any
    ) -> Any:
        """A predictor over raw inputs for the trained ``model``."""

    @abstractmethod
    def save_model(
        self, model_dir: Path, model: torch.nn.Module, built: BuiltModel, splits: Any, cfg: Config
    ) -> Path:
        """Write the reloadable ``model/`` directory (atomically)."""

    @abstractmethod
    def load_predictor(self, model_dir: Path, card: dict, device: str) -> Any:
        """Rebuild the predictor from a ``model/`` directory and its model card."""

    @abstractmethod
    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """Input records for ``tunelab predict``: ``{input_key: value}`` per argument, then
        one per line / row of ``--input`` (with ``line`` or ``row``); an unusable input
        is a record with an ``error``, kept so output N is input N. The predictor's
        ``predict_records(records)`` adds each prediction (or keeps the error).
        ``fields``: the ``--<field> VALUE`` options of a task with :attr:`input_fields`,
        which together make one more input."""

    @abstractmethod
    def request_inputs(self, payload: dict[str, Any]) -> list:
        """Raw inputs from a ``serve`` request body; ValueError saying what to send."""

    @abstractmethod
    def evaluate_source(
        self, predictor: Any, run_dir: Path, source: str, columns: dict[str, str | None]
    ) -> dict:
        """Metrics of a run's model on a labelled source (``tunelab evaluate``)."""

    @abstractmethod
    def export_signature(self, predictor: Any) -> ExportSignature:
        """The module and sample inputs ONNX export traces."""

    @abstractmethod
    def describe_layers(self, model_name: str) -> list[dict]:
        """``[{"name", "params"}]`` per layer group, for ``tunelab layers``."""

    # ------------------------------------------------------ optional hooks
    def objective_class_for(self, cfg: Config) -> type[Objective]:
        """The objective class of a run of ``cfg`` (its metrics and monitor, checked when
        the config loads); a task whose objective depends on a setting (e.g. a
        ``problem_type``) overrides this. Default: :attr:`objective_class`."""
        return self.objective_class

    def subset_train(self, splits: Any, indices: list[int]) -> Any:
        """``splits`` keeping only these training examples (``data.train_per_class``,
        learning curves); validation and test unchanged, and the summary describing the
        subset (``tunelab.data.checks.subset_train_summary``): ``auto`` chooses from it.
        Default: not supported."""
        raise ConfigError(
            f"data.train_per_class: task '{self.name}' cannot subset its training split"
        )

    def supports(self, strategy: str) -> bool:
        """Whether ``strategy`` applies to this task; ``auto`` (the default) always does:
        it resolves to one of the task's own strategies (tunelab.auto_strategy)."""
        return self.strategies is None or strategy in (*self.strategies, "auto")

    def final_metrics(
        self, cfg: Config, model: torch.nn.Module, built: BuiltModel, splits: Any, device: Any
    ) -> dict[str, Any]:
        """Test-only metrics computed once after training (the objective's
        ``final_metrics``), and ``{"baseline": {"validation", "test"}}`` where the task
        scores the untouched model; merged into ``metrics.json``. Default: none."""
        return {}

    def owns_model(self, model_name: str) -> bool:
        """Whether ``model_name`` is one of this task's known models (``tunelab layers``)."""
        from tunelab.models.registry import known_model

        spec = known_model(model_name)
        return spec is not None and spec.task == self.name

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits: Any, split: str) -> str:
        """A key that changes whenever the pooled features of ``split`` would."""
        raise ConfigError(f"task '{self.name}' has no cached-feature strategy")

    def examples(self, split: Any) -> tuple[list, list]:
        """A split's raw inputs (what ``predictor.predict`` takes) and their targets."""
        raise NotImplementedError(f"task '{self.name}' does not list its examples")

    def take(self, split: Any, rows: list[int]) -> Any:
        """The examples of ``split`` at ``rows``, as a split of the same kind."""
        raise NotImplementedError(f"task '{self.name}' does not support replay")

    def concat(self, first: Any, second: Any) -> Any:
        """One split holding ``first``'s examples, then ``second``'s."""
        raise NotImplementedError(f"task '{self.name}' does not support replay")

    def overlap_keys(self, split: Any) -> list[str]:
        """One key per example, equal for examples that count as duplicates across splits."""
        raise NotImplementedError(f"task '{self.name}' does not support replay")

    def class_labels(self, splits: Any, split: str) -> list[str] | None:
        """The class of every example of ``split`` (train / validation / test), which the
        representativeness checks compare (:mod:`tunelab.data.representative`); None
        where an example has no single class. Default: None."""
        return None

    def input_sizes(self, splits: Any, split: str) -> dict[str, list[float]]:
        """Per-example size numbers of ``split`` (train / validation / test) by measure
        (``{"characters": [...]}``, image widths, clip durations), which the
        distribution-shift check compares between train and validation / test.
        Default: none."""
        return {}

    def read_unlabeled(self, cfg: Config, source: str) -> Any:
        """The inputs of ``source`` (``data.unlabeled``) as a split of this task's kind,
        each example's label its true one where the source has labels, else None; they
        are only ever compared with pseudo-labels. The model's outputs must be logits
        over ``splits.labels``. Default: self-training is not supported.

        Raises:
            DataError: the source is missing, unreadable or holds no inputs.
        """
        raise ConfigError(
            f"data.unlabeled: task '{self.name}' cannot self-train; remove data.unlabeled"
        )

    def relabel(self, split: Any, labels: list[str]) -> Any:
        """``split`` with these labels, one per example (pseudo-labels)."""
        raise NotImplementedError(f"task '{self.name}' does not support self-training")

    def latency_inputs(self, splits: Any, limit: int) -> list:
        """Up to ``limit`` raw test inputs, for single-example latency."""
        return self.examples(splits.test)[0][:limit]

    def embedding(self, cfg: Config) -> Any:
        """``embed(model, batch)``: one pooled embedding per example of a collated
        training batch (labels removed), with gradients, for strategies that train the
        backbone on embeddings (contrastive pairs). Raises ConfigError when the task
        has none, or none for ``cfg``'s data (default: none)."""
        raise ConfigError(
            f"strategy.name={cfg.strategy.name}: task '{self.name}' has no pooled "
            "embedding of its inputs to train on; choose another strategy"
        )

    def drift_embeddings(self, cfg: Config, run_dir: Path, limit: int) -> Any:
        """``(pretrained, tuned)`` embeddings of reference inputs, or None when the task
        does not measure representation drift."""
        return None

    def pretrain(self, cfg: Config, output_dir: Path, console: Console) -> Path:
        """Build a backbone by self-supervised training on ``cfg``'s data and save it as
        a directory ``model.name`` can point to (``tunelab pretrain``); for tasks where
        no pre-trained weights ship. Returns that directory."""
        raise ConfigError(
            f"task '{self.name}' has no self-supervised pre-training; "
            "give a pre-trained model.name instead"
        )

    def old_task_score(self, cfg: Config, run_dir: Path, limit: int) -> dict | None:
        """The pretrained model's own task scored before and after fine-tuning, on at
        most ``limit`` reference examples: ``{"name", "before", "after", "n"}`` (higher
        is better), or None when the task does not measure it. ``compare`` flags
        catastrophic forgetting from this drop, not from representation drift."""
        return None

    def report_sections(self, run: Any) -> list[ReportSection]:
        """Sections ``report.html`` shows after its generic ones for a run of this task
        (``run``: a :class:`tunelab.report.records.RunData`), e.g. a classifier's
        confusion matrix. Default: none."""
        return []


_TASKS: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its ``name``.

    Raises:
        TypeError: the class leaves part of the contract unimplemented.
    """
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise TypeError(f"task {cls.__name__} does not implement {', '.join(missing)}")
    if not cls.name or not hasattr(cls, "objective_class"):
        raise TypeError(f"task {cls.__name__} must set name and objective_class")
    _TASKS[cls.name] = cls()
    return cls


def get_task(name: str) -> Task:
    """The registered task called ``name`` (the config's ``task``)."""
    if name not in _TASKS:
        raise ConfigError(f"task '{name}' is unknown; choose one of {', '.join(task_names())}")
    return _TASKS[name]


def task_names() -> list[str]:
    """Registered task names."""
    return sorted(_TASKS)


def all_tasks() -> list[Task]:
    """Every registered task."""
    return [_TASKS[name] for name in task_names()]
