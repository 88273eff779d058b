"""The config tree: one validated object instead of kwargs spread over constructors.

A run is fully described by a :class:`Config`. It comes from a YAML file, dotted
``--set key=value`` overrides, or Python. Every section forbids unknown keys, because a
misspelt key that is silently ignored (``train.lr_rate``) costs a user a whole run.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from tunelab.config_errors import validation_error
from tunelab.config_yaml import apply_overrides, read_yaml, yaml_word
from tunelab.errors import ConfigError

DEFAULT_TASK = "text_classification"
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class _Section(BaseModel):
    """Base for every section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _yaml_words(cls, raw: Any) -> Any:
        """YAML 1.1 reads a bare ``no``/``off``/``on``/``yes`` as a boolean; where a field
        takes words, take it as the word the user wrote (``mixed_precision: no``)."""
        if not isinstance(raw, dict):
            return raw
        return {key: yaml_word(cls, key, value) for key, value in raw.items()}


class ModelConfig(_Section):
    """Which backbone to load. Tasks extend it with what their models read."""

    name: str = "all-MiniLM-L6-v2"
    pretrained: bool = True


class DataConfig(_Section):
    """Where the data is and how it is split. Tasks extend it with what they read."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    seed: int = Field(42, ge=0, lt=2**32)  # split seed, fixed across training seeds
    # keep this many training examples per class, seeded by data.seed (learning curves:
    # compare --train-sizes); validation and test stay whole
    train_per_class: int | None = Field(None, ge=1)


class StrategyConfig(_Section):
    """Which strategy; each strategy's own section (``strategies/``) adds its settings."""

    # auto: a feature-extraction probe, then the strategy the data calls for (auto_strategy.py)
    name: str = "auto"
    cache_dir: str | None = None  # where cached features / frozen-prefix states go


class EarlyStoppingConfig(_Section):
    """Stop when the monitored validation metric stops improving.

    ``metric`` defaults to the task's own (macro-F1 for classification, loss for a
    language model) and ``mode`` to that metric's direction.
    """

    enabled: bool = True
    metric: str | None = None
    mode: Literal["max", "min"] | None = None
    patience: int = Field(3, ge=1)
    min_delta: float = Field(0.0, ge=0.0)


ReportTarget = Literal["none", "all", "mlflow", "tensorboard"]


class TrainConfig(_Section):
    """Optimisation and loop settings, in the spirit of HF ``TrainingArguments``."""

    # auto: early stopping on the task's monitored metric ends the run (tunelab.auto_train)
    epochs: PositiveInt | Literal["auto"] = 3
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    lr: PositiveFloat | Literal["auto"] = 5e-5  # auto: a range test picks it (lr_finder.py)
    head_lr: float = Field(1e-3, gt=0.0, allow_inf_nan=False)
    weight_decay: float = Field(0.01, ge=0.0, allow_inf_nan=False)
    # adamw, sgd, adafactor, or a torch.optim class (torch.optim.RAdam); optimizer_kwargs
    # go to its constructor (tunelab.optim.build_optimizer).
    optimizer: str = "adamw"
    optimizer_kwargs: dict[str, Any] = Field(default_factory=dict)
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    warmup_steps: int | None = Field(None, ge=0)
    grad_clip: float | None = Field(1.0, gt=0.0, allow_inf_nan=False)
    grad_accum_steps: int = Field(1, ge=1)
    seed: int = Field(42, ge=0, lt=2**32)
    eval_every_steps: int | None = Field(None, ge=1)
    group_by_length: bool = True
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    # auto: bf16 where the device computes it natively (CUDA with bf16, CPUs with AMX /
    # AVX512-BF16), else fp32; on a CPU without it bf16 is emulated and slower.
    mixed_precision: Literal["no", "bf16", "fp16", "auto"] = "no"
    compile: bool = False  # torch.compile the model (dynamic shapes); pays off on long runs
    # A NaN/inf loss or gradient: stop the run (marked failed, naming the step and the
    # likely cause), or skip that step's update and count it (metrics.json).
    on_nonfinite: Literal["stop", "skip"] = "stop"
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    # Experiment tracking, as HF ``report_to`` (see ``tunelab.tracking``); ``log_model``
    # also uploads the run's ``model/`` directory to MLflow.
    report_to: ReportTarget | list[ReportTarget] = "none"
    log_model: bool = False

    @field_validator("epochs", "lr", mode="before")
    @classmethod
    def _number_or_auto(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "auto":
            try:
                return float(value)
            except ValueError:
                raise ValueError("expected a number or 'auto'") from None
        return value

    @model_validator(mode="after")
    def _auto_epochs_stop_early(self) -> TrainConfig:
        if self.epochs == "auto" and not self.early_stopping.enabled:
            raise ValueError(
                "train.epochs=auto ends when early stopping does; set "
                "train.early_stopping.enabled: true or give train.epochs a number"
            )
        return self


class SearchConfig(_Section):
    """Hyper-parameter search (``tunelab search``): what to vary and how to explore it.

    ``space`` maps dotted config keys to ``{log_uniform|uniform|int: [low, high]}`` or
    ``{choice: [...]}``, optionally with ``when: {key: value}``; empty means a default
    space for the strategy (see ``tunelab.hpsearch.space``). A run ignores this section.
    ``metric`` defaults to the task's monitored metric, ``direction`` to its direction.
    """

    space: dict[str, Any] = Field(default_factory=dict)
    trials: int = Field(20, ge=1)
    timeout_seconds: float | None = Field(None, gt=0)
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    sampler_seed: int = 0
    startup_trials: int = Field(8, ge=1)  # random trials before TPE models the space
    pruner: Literal["median", "successive_halving", "none"] = "median"
    pruner_warmup_epochs: int = Field(1, ge=1)  # the first epoch after which a trial can stop
    isolation: Literal["subprocess", "inprocess"] = "subprocess"
    baseline: bool = True  # run the config's own values first, as the number to beat
    heartbeat_seconds: int = Field(10, ge=1)  # a trial silent for 3x this is failed
    max_retries: int = Field(1, ge=0)  # re-runs of a trial whose process was killed


class Config(_Section):
    """The whole run: task, model, data, strategy and training settings.

    The ``model``, ``data`` and ``train`` sections are the chosen task's classes and
    ``strategy`` the chosen strategy's, so a key that neither reads is an error. Build
    one with :func:`load_config` / :func:`validate_config`, which pick those classes.
    """

    task: str = DEFAULT_TASK
    model: SerializeAsAny[ModelConfig] = Field(default_factory=ModelConfig)
    data: SerializeAsAny[DataConfig] = Field(default_factory=DataConfig)
    strategy: SerializeAsAny[StrategyConfig] = Field(default_factory=StrategyConfig)
    train: SerializeAsAny[TrainConfig] = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain, YAML-ready dict of every resolved value (defaults included).

        A ``search`` section holding only defaults is left out: a run directory's
        ``config.yaml`` describes a run, not a search.
        """
        data = self.model_dump(mode="json")
        if self.search == SearchConfig():
            del data["search"]
        return data

    def save(self, path: str | Path) -> None:
        """Write the resolved config as YAML (the run directory's ``config.yaml``)."""
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    def given(self) -> dict[str, Any]:
        """The keys this config was given (file, ``--set``, code), defaults left out.

        A run derived from this config (by compare, ``strategy.name: auto``, a search
        trial) starts from these, not from :meth:`to_dict`: a key left at its default
        stays unset there, so what reads unset keys (a strategy's ``model_defaults``, a
        value checked only when given, like ``model.max_length``) acts as it would had
        the user named that run's strategy.
        """
        return given_keys(self)

    def with_strategy(self, name: str, **model: Any) -> Config:
        """This config with another strategy (keeping the settings it shares) and
        ``model`` keys replaced: how compare and ``auto`` derive their runs."""
        raw = self.given()
        raw["strategy"] = retarget_strategy(raw.get("strategy", {}), name)
        raw.setdefault("model", {}).update(model)
        return validate_config(raw)


@functools.cache
def config_class(task: str, strategy: str) -> type[Config]:
    """The :class:`Config` whose sections are ``task``'s and ``strategy``'s own classes."""
    from tunelab.strategies import strategy_config_class
    from tunelab.tasks import get_task

    sections = get_task(task).sections()
    return create_model(
        "Config",
        __base__=Config,
        model=(SerializeAsAny[sections.model], Field(default_factory=sections.model)),
        data=(SerializeAsAny[sections.data], Field(default_factory=sections.data)),
        train=(SerializeAsAny[sections.train], Field(default_factory=sections.train)),
        strategy=(
            SerializeAsAny[strategy_config_class(strategy)],
            Field(default_factory=lambda: strategy_config_class(strategy)(name=strategy)),
        ),
        **{name: (cls, Field(default_factory=cls)) for name, cls in sections.extra.items()},
    )


def as_config(config: Config | dict | str | Path) -> Config:
    """A :class:`Config` from what the Python API takes: a config, a raw dict or a YAML path."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return load_config(base=config)
    return load_config(config)


def given_keys(section: BaseModel) -> dict[str, Any]:
    """``section``'s set keys as JSON values, nested sections by the same rule.

    Unlike ``model_dump(exclude_unset=True)``, a nested section counts when a key inside
    it was set by assignment (``cfg.train.seed = 1``, as compare does), even where the
    section itself was never given.
    """
    out: dict[str, Any] = {}
    for name in type(section).model_fields:
        value = getattr(section, name)
        if isinstance(value, BaseModel):
            inner = given_keys(value)
            if inner or name in section.model_fields_set:
                out[name] = inner
        elif name in section.model_fields_set:
            out[name] = section.model_dump(mode="json", include={name})[name]
    return out


def retarget_strategy(section: dict[str, Any], name: str) -> dict[str, Any]:
    """A ``strategy`` section for ``name``: the keys of ``section`` that it also reads."""
    from tunelab.strategies import strategy_config_class

    fields = strategy_config_class(name).model_fields
    return {**{k: v for k, v in section.items() if k in fields}, "name": name}


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> Config:
    """Build a validated :class:`Config` from a YAML file, a dict and ``--set`` overrides.

    Args:
        path: YAML file; ``None`` starts from the defaults.
        overrides: ``KEY=VALUE`` strings applied after the file.
        base: a dict used instead of (or when ``path`` is None) a file.

    Raises:
        ConfigError: unreadable YAML, unknown key, or a value of the wrong type.
    """
    raw = dict(base or {})
    if path is not None:
        raw = read_yaml(Path(path))
    raw = apply_overrides(raw, overrides or [])
    return validate_config(raw, source=str(path) if path else "config")


def validate_config(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a raw dict against the chosen task's and strategy's sections.

    Raises:
        ConfigError: unknown task or strategy, unknown key, a value of the wrong type or
            range, or a monitored metric the task does not report (one actionable line).
    """
    task, strategy = _task_and_strategy(raw, source)
    cls = config_class(task, strategy)
    try:
        cfg = cls.model_validate(raw)
    except ValidationError as err:
        raise validation_error(err, cls, source, task, strategy) from None
    _resolve_metrics(cfg, source)
    return cfg


def _task_and_strategy(raw: dict[str, Any], source: str) -> tuple[str, str]:
    """The registered task and strategy names ``raw`` asks for (defaults when unset)."""
    from tunelab.strategies import strategy_names
    from tunelab.tasks import get_task, task_names

    task = raw.get("task", DEFAULT_TASK)
    if task not in task_names():
        raise ConfigError(
            f"{source}: task '{task}' is unknown; choose one of {', '.join(task_names())}"
        )
    section = raw.get("strategy") or {}
    strategy = section.get("name", StrategyConfig().name) if isinstance(section, dict) else None
    if strategy not in strategy_names():
        raise ConfigError(
            f"{source}: strategy.name '{strategy}' is unknown; "
            f"choose one of {', '.join(strategy_names())}"
        )
    chosen = get_task(task)
    if not chosen.supports(strategy):
        usable = [name for name in strategy_names() if chosen.supports(name)]
        raise ConfigError(
            f"{source}: strategy.name '{strategy}' does not apply to task '{task}'; "
            f"choose one of {', '.join(usable)}"
        )
    return task, strategy


def _resolve_metrics(cfg: Config, source: str) -> None:
    """Fill the monitored metrics from the task's objective; refuse ones it lacks."""
    from tunelab.tasks import get_task

    objective = get_task(cfg.task).objective_class_for(cfg)
    names = objective.metric_names()
    stopping, search = cfg.train.early_stopping, cfg.search
    for key, metric in (("train.early_stopping.metric", stopping), ("search.metric", search)):
        if metric.metric is not None and metric.metric not in names:
            raise ConfigError(
                f"{source}: {key} '{metric.metric}' is not a metric of task '{cfg.task}'; "
                f"choose one of {', '.join(names)}"
            )
    # derived, not given: set past pydantic so Config.given leaves them out
    object.__setattr__(stopping, "metric", stopping.metric or objective.monitor)
    direction = objective.spec(stopping.metric).mode
    if stopping.mode not in (None, direction):
        better = "higher" if direction == "max" else "lower"
        raise ConfigError(
            f"{source}: train.early_stopping.mode '{stopping.mode}' contradicts metric "
            f"'{stopping.metric}' ({better} is better: mode {direction}); drop the mode"
        )
    object.__setattr__(stopping, "mode", direction)
