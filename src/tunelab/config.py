"""The config tree: one validated object instead of kwargs spread over constructors.

A run is fully described by a :class:`Config`. It comes from a YAML file, dotted
``--set key=value`` overrides, or Python. Every section forbids unknown keys, because a
misspelt key that is silently ignored (``train.lr_rate``) costs a user a whole run.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tunelab.errors import ConfigError

DEFAULT_IMAGE_MODEL = "efficientnet_lite0"
STRATEGY_NAMES = (
    "feature_extraction",
    "top_k",
    "full",
    "gradual_unfreeze",
    "discriminative_lr",
    "lora",
)


class _Section(BaseModel):
    """Base for every section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HeadConfig(_Section):
    """The classification head put on top of the pooled backbone output."""

    hidden_sizes: list[int] = Field(default_factory=list)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    activation: Literal["gelu", "relu", "tanh"] = "gelu"


class ModelConfig(_Section):
    """Which backbone to load and how to adapt its architecture."""

    name: str = "all-MiniLM-L6-v2"
    pretrained: bool = True
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = Field(128, ge=8)
    drop_top_layers: int = Field(0, ge=0)
    init_from: str | None = None  # a finished run directory: continual update of its model
    # With init_from: this share of the earlier run's training examples (stratified by
    # label, seeded) is added to the new training split: rehearsal against forgetting.
    replay_fraction: float = Field(0.0, ge=0.0, le=1.0)
    # Images (task: image_classification); text runs ignore these.
    weights: str | None = None  # a .safetensors / .pth state dict for a timm architecture
    image_size: int | None = Field(None, ge=16)  # default: the architecture's pretrained size
    freeze_bn: bool = True  # BatchNorm of frozen layers keeps its running statistics
    head: HeadConfig = Field(default_factory=HeadConfig)


class AugmentConfig(_Section):
    """Training-time image augmentation (torchvision v2); evaluation never augments.

    Each transform is off at its neutral value. ``auto`` adds a learned-policy-free
    random augmentation (TrivialAugment, RandAugment); ``mixup`` / ``cutmix`` are Beta
    alphas (0 = off) applied per batch with soft labels.
    """

    crop_scale: tuple[float, float] | None = (0.8, 1.0)  # random resized crop; null = off
    hflip: float = Field(0.5, ge=0.0, le=1.0)
    vflip: float = Field(0.0, ge=0.0, le=1.0)
    rotation: float = Field(0.0, ge=0.0, le=180.0)  # degrees, either way
    color_jitter: float = Field(0.0, ge=0.0, le=1.0)  # brightness / contrast / saturation
    auto: Literal["none", "trivial", "randaugment"] = "none"
    randaugment_ops: int = Field(2, ge=1)
    randaugment_magnitude: int = Field(9, ge=0, le=30)
    mixup: float = Field(0.0, ge=0.0)
    cutmix: float = Field(0.0, ge=0.0)


class DataConfig(_Section):
    """Where the data is, which columns to read, and how to clean and split it."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    test_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    missing: Literal["drop", "fill"] = "drop"
    fill_value: str = ""
    lowercase: bool = False
    dedupe: bool = True
    min_class_count: int = Field(0, ge=0)
    max_per_class: int | None = Field(None, ge=1)
    encoding_errors: Literal["error", "replace"] = "error"
    seed: int = 42  # split seed, fixed across training seeds so compared runs share one split
    # Images: a CSV/JSONL's path column (relative paths resolve from the file's folder),
    # what to do with a file that is not a readable image, and training augmentation.
    path_column: str = "path"
    on_bad_image: Literal["error", "skip"] = "error"
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


class LoraSettings(_Section):
    """peft LoRA hyper-parameters; target modules are found per architecture when unset."""

    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | None = None
    merge: bool = False
    # Adapters start at zero and are low-rank: they need a larger step than full
    # fine-tuning (LoRA practice: ~10x). Scales train.lr for the adapter groups.
    lr_scale: float = Field(10.0, gt=0.0)


class StrategyConfig(_Section):
    """Which parameters train, and at what learning rate."""

    name: Literal[STRATEGY_NAMES] = "top_k"  # type: ignore[valid-type]
    k: int = Field(2, ge=1)
    unfreeze_every_epochs: int = Field(1, ge=1)
    unfreeze_every_steps: int | None = Field(None, ge=1)
    lr_decay: float = Field(0.8, gt=0.0, le=1.0)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    cache_dir: str | None = None
    # Frozen-prefix cache (top_k, gradual_unfreeze): run the frozen bottom once per example
    # and train the top on its cached output. auto: on when the backbone supports it.
    prefix_cache: Literal["auto", "on", "off"] = "auto"
    prefix_cache_dtype: Literal["float32", "bfloat16", "float16"] = "float32"

    @field_validator("prefix_cache", mode="before")
    @classmethod
    def _yaml_on_off(cls, value: Any) -> Any:
        """YAML reads a bare ``on``/``off`` as a boolean; take it as the word meant."""
        return {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else value


class EarlyStoppingConfig(_Section):
    """Stop when the monitored validation metric stops improving."""

    enabled: bool = True
    metric: str = "f1_macro"
    mode: Literal["max", "min"] = "max"
    patience: int = Field(3, ge=1)
    min_delta: float = Field(0.0, ge=0.0)


class TrainConfig(_Section):
    """Optimisation and loop settings, in the spirit of HF ``TrainingArguments``."""

    epochs: int = Field(3, ge=1)
    max_steps: int | None = Field(None, ge=1)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    lr: float = Field(5e-5, gt=0.0)
    head_lr: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.01, ge=0.0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    warmup_steps: int | None = Field(None, ge=0)
    grad_clip: float | None = Field(1.0, gt=0.0)
    grad_accum_steps: int = Field(1, ge=1)
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    class_weights: Literal["balanced"] | None = None
    seed: int = 42
    eval_every_steps: int | None = Field(None, ge=1)
    group_by_length: bool = True
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    # auto: bf16 where the device computes it natively (CUDA with bf16, CPUs with AMX /
    # AVX512-BF16), else fp32; on a CPU without it bf16 is emulated and slower.
    mixed_precision: Literal["no", "bf16", "fp16", "auto"] = "no"
    compile: bool = False  # torch.compile the model (dynamic shapes); pays off on long runs
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)


class SearchConfig(_Section):
    """Hyper-parameter search (``tunelab search``): what to vary and how to explore it.

    ``space`` maps dotted config keys to ``{log_uniform|uniform|int: [low, high]}`` or
    ``{choice: [...]}``, optionally with ``when: {key: value}``; empty means a default
    space for the strategy (see ``tunelab.hpsearch.space``). A run ignores this section.
    """

    space: dict[str, Any] = Field(default_factory=dict)
    trials: int = Field(20, ge=1)
    timeout_seconds: float | None = Field(None, gt=0)
    metric: Literal["f1_macro", "accuracy", "precision_macro", "recall_macro", "loss"] = "f1_macro"
    direction: Literal["maximize", "minimize"] | None = None  # None: minimize loss, else maximize
    sampler_seed: int = 0
    startup_trials: int = Field(8, ge=1)  # random trials before TPE models the space
    pruner: Literal["median", "successive_halving", "none"] = "median"
    pruner_warmup_epochs: int = Field(1, ge=1)  # the first epoch after which a trial can stop
    isolation: Literal["subprocess", "inprocess"] = "subprocess"
    baseline: bool = True  # run the config's own values first, as the number to beat
    heartbeat_seconds: int = Field(10, ge=1)  # a trial silent for 3x this is failed
    max_retries: int = Field(1, ge=0)  # re-runs of a trial whose process was killed


class Config(_Section):
    """The whole run: task, model, data, strategy and training settings."""

    task: Literal["text_classification", "image_classification"] = "text_classification"
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)

    @model_validator(mode="after")
    def _default_image_model(self) -> Config:
        """An image task without ``model.name`` gets the bundled EfficientNet-Lite0."""
        if self.task == "image_classification" and "name" not in self.model.model_fields_set:
            self.model.name = DEFAULT_IMAGE_MODEL
        return self

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


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``train.lr=1e-4`` into a key path and a YAML-typed value.

    The value is parsed with YAML so ``3`` is an int, ``1e-4`` a float, ``[64, 32]`` a
    list and ``null`` is None, exactly as it would be in the config file.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.lr=1e-4")
    value = yaml.safe_load(raw) if raw.strip() else ""
    if isinstance(value, str):
        value = _yaml_float(value)
    return key.strip().split("."), value


def _yaml_float(value: str) -> Any:
    """YAML 1.1 reads ``1e-4`` as a string; users mean a float."""
    try:
        return float(value)
    except ValueError:
        return value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each dotted override inside the nested raw dict (creating sections as needed)."""
    for text in overrides:
        path, value = parse_override(text)
        node = raw
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    return raw


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
        raw = _read_yaml(Path(path))
    raw = apply_overrides(raw, overrides or [])
    return validate_config(raw, source=str(path) if path else "config")


def validate_config(raw: dict[str, Any], source: str = "config") -> Config:
    """Validate a raw dict, turning pydantic's report into one actionable line."""
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            raise ConfigError(
                f"{source}: unknown key '{where}'{_did_you_mean(first['loc'])}; see configs/ "
                "or `tunelab run --help` for the valid keys"
            ) from None
        raise ConfigError(
            f"{source}: {where}: {first['msg']} (got {first.get('input')!r})"
        ) from None


def _did_you_mean(loc: tuple) -> str:
    """``" (did you mean 'train.epochs'?)"`` for a misspelt key, else ``""``."""
    section: Any = Config
    for part in loc[:-1]:
        field = getattr(section, "model_fields", {}).get(part)
        section = getattr(field, "annotation", None)
        if not isinstance(section, type) or not issubclass(section, BaseModel):
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}'?)" if close else ""


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({err.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data
