"""The search space: which config keys a search varies, and over which values.

A space is data in the YAML, keyed by dotted config paths::

    search:
      space:
        train.lr: {log_uniform: [1.0e-5, 1.0e-3]}
        train.batch_size: {choice: [8, 16, 32]}
        train.epochs: {int: [1, 5]}
        strategy.k: {int: [1, 4], when: {strategy.name: top_k}}

``when`` samples a key only for some values of another (a conditional space: ``k``
means nothing to feature extraction). Every key is checked against the real config
before the first trial: the key must exist, and both ends of each range and every
choice must pass the config's own validation, so a typo costs seconds, not a search.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tunelab.config import Config, retarget_strategy, validate_config
from tunelab.errors import ConfigError

RANGES = ("uniform", "log_uniform", "int")
KINDS = (*RANGES, "choice")
# YAML 1.1 reads 1e-5 (no dot) as a string; a user writing it means a number.
_EXPONENT_FLOAT = re.compile(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+")


@dataclass(frozen=True)
class Param:
    """One searched config key; ``key`` is also the Optuna parameter name."""

    key: str
    kind: str
    values: tuple  # (low, high) for a range, the options for ``choice``
    when: dict[str, tuple] = field(default_factory=dict)

    def suggest(self, trial: Any) -> Any:
        """Draw this key's value from an Optuna trial (or ``FixedTrial``)."""
        if self.kind == "choice":
            options = {_encode(v): v for v in self.values}
            return options[trial.suggest_categorical(self.key, list(options))]
        low, high = self.values
        if self.kind == "int":
            return trial.suggest_int(self.key, low, high)
        return trial.suggest_float(self.key, low, high, log=self.kind == "log_uniform")

    def active(self, raw: dict[str, Any]) -> bool:
        """Whether this key is searched for a config (its ``when`` conditions hold)."""
        return all(get_path(raw, key) in allowed for key, allowed in self.when.items())

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a point of this key's range or one of its choices."""
        if self.kind == "choice":
            return value in self.values
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and value != int(value):
            return False
        return self.values[0] <= value <= self.values[1]

    def encoded(self, value: Any) -> Any:
        """``value`` as Optuna stores it (lists and mappings as JSON text)."""
        return _encode(value) if self.kind == "choice" else value

    def to_dict(self) -> dict[str, Any]:
        """The spec as written in YAML (what the study records to detect a changed space)."""
        spec: dict[str, Any] = {self.kind: list(self.values)}
        if self.when:
            spec["when"] = {k: list(v) for k, v in self.when.items()}
        return spec


def default_space(strategy: str) -> dict[str, dict[str, Any]]:
    """A sensible space when ``search.space`` is empty: learning rates, batch,
    regularisation, and the strategy's own keys (only what the strategy reads).

    Feature extraction trains only the head, so the backbone ``lr`` is left out.
    """
    from tunelab.strategies import strategy_class

    chosen = strategy_class(strategy)
    space: dict[str, dict[str, Any]] = {}
    if not chosen.uses_feature_cache:
        space["train.lr"] = {"log_uniform": [1e-5, 3e-4]}
    space.update(
        {
            "train.head_lr": {"log_uniform": [3e-4, 1e-2]},
            "train.batch_size": {"choice": [8, 16, 32]},
            "train.warmup_ratio": {"uniform": [0.0, 0.2]},
            "train.weight_decay": {"log_uniform": [1e-4, 1e-1]},
            "model.head.dropout": {"uniform": [0.0, 0.3]},
        }
    )
    return {**space, **chosen.search_space()}


def parse_space(base: Config) -> list[Param]:
    """The validated parameters of ``base.search.space`` (or the default space).

    Raises:
        ConfigError: an unknown key, an unknown option, an inverted or non-positive log
            range, an empty choice, or a value the config itself rejects.
    """
    raw = run_dict(base)
    space = _flatten(base.search.space) or {
        key: spec for key, spec in default_space(base.strategy.name).items() if _has(raw, key)
    }  # the default space keeps the keys this task's config has (a LM has no new head)
    params = [_parse_param(key, spec, raw) for key, spec in space.items()]
    referenced = {key for p in params for key in p.when}
    # Keys that others depend on are drawn first, so ``when`` sees the drawn value.
    return sorted(params, key=lambda p: p.key not in referenced)


def run_dict(cfg: Config) -> dict[str, Any]:
    """The config as a plain dict without its ``search`` section: what one trial runs."""
    data = cfg.to_dict()
    data.pop("search", None)
    return data


def apply_params(base: Config, params: list[Param], trial: Any, source: str) -> Config:
    """``base`` with every active parameter drawn from ``trial``, validated.

    The trial starts from the keys ``base`` was given (:meth:`Config.given`), so its
    unset keys take the drawn strategy's defaults as a run naming it would; ``when``
    conditions read every resolved value.
    """
    raw, trial_raw = run_dict(base), base.given()
    trial_raw.pop("search", None)
    for param in params:
        if param.active(raw):
            value = param.suggest(trial)
            set_path(raw, param.key, value)
            set_path(trial_raw, param.key, value)
    # A drawn strategy keeps only the settings it reads (``strategy.k`` is top_k's).
    drawn = raw["strategy"]["name"]
    trial_raw["strategy"] = retarget_strategy(trial_raw.get("strategy", {}), drawn)
    return validate_config(trial_raw, source=source)


def baseline_params(base: Config, params: list[Param]) -> tuple[dict[str, Any] | None, str]:
    """The Optuna params that reproduce ``base`` itself, or None and the key that cannot."""
    raw = run_dict(base)
    fixed: dict[str, Any] = {}
    for param in params:
        if not param.active(raw):
            continue
        value = get_path(raw, param.key)
        if not param.contains(value):
            return None, f"{param.key}={value!r} lies outside {param.to_dict()}"
        fixed[param.key] = param.encoded(value)
    return fixed, ""


def _has(raw: dict[str, Any], key: str) -> bool:
    try:
        get_path(raw, key)
    except (KeyError, TypeError):
        return False
    return True


def get_path(raw: dict[str, Any], key: str) -> Any:
    """The value at dotted ``key`` of a nested dict."""
    node: Any = raw
    for part in key.split("."):
        node = node[part]
    return node


def set_path(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set the value at dotted ``key`` of a nested dict (creating missing sections)."""
    *sections, leaf = key.split(".")
    node = raw
    for part in sections:
        node = node.setdefault(part, {})
    node[leaf] = value


def _reading_strategy(key: str) -> str | None:
    """A strategy whose section has ``key`` (``strategy.k`` -> top_k), or None."""
    from tunelab.strategies import strategy_config_class, strategy_names

    parts = key.split(".")
    if parts[0] != "strategy" or len(parts) < 2:
        return None
    return next(
        (n for n in strategy_names() if parts[1] in strategy_config_class(n).model_fields), None
    )


def _as_read_by_a_strategy(raw: dict[str, Any], key: str) -> dict[str, Any]:
    """``raw`` whose strategy reads ``key``: another strategy's key is checked in its
    own section (the search draws that strategy when ``when`` says so)."""
    reader = _reading_strategy(key)
    if reader is None or key.split(".")[1] in raw["strategy"]:
        return raw
    out = copy.deepcopy(raw)
    out["strategy"] = retarget_strategy(raw["strategy"], reader)
    defaults = validate_config(out).to_dict()["strategy"]
    out["strategy"] = defaults
    return out


def _flatten(space: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Accept nested sections too (``train: {lr: {...}}``, as ``--set`` writes them)."""
    flat: dict[str, Any] = {}
    for key, spec in space.items():
        nested = (
            isinstance(spec, dict)
            and spec
            and not set(spec) & {*KINDS, "when"}
            and all(isinstance(v, dict) for v in spec.values())
        )
        if nested:
            flat.update(_flatten(spec, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = spec
    return flat


def _parse_param(key: str, spec: Any, raw: dict[str, Any]) -> Param:
    where = f"search.space.{key}"
    _check_leaf(key, raw, where)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: expected a mapping such as {{log_uniform: [1.0e-5, 1.0e-3]}} "
            f"or {{choice: [8, 16]}}, got {spec!r}"
        )
    unknown = sorted(set(spec) - {*KINDS, "when"})
    kinds = [k for k in KINDS if k in spec]
    if unknown or len(kinds) != 1:
        found = f"unknown option '{unknown[0]}'" if unknown else f"{len(kinds)} kinds given"
        raise ConfigError(
            f"{where}: {found}; give exactly one of {', '.join(KINDS)} (plus an optional when)"
        )
    kind = kinds[0]
    values = _choices(spec[kind], where) if kind == "choice" else _range(kind, spec[kind], where)
    for value in values:
        _check_value(key, value, raw, where)
    return Param(key, kind, values, _when(spec.get("when"), raw, where))


def _check_leaf(key: str, raw: dict[str, Any], where: str) -> None:
    if key.split(".")[0] == "search":
        raise ConfigError(f"{where}: a search cannot vary its own settings")
    raw = _as_read_by_a_strategy(raw, key)
    try:
        value = get_path(raw, key)
    except (KeyError, TypeError):
        raise ConfigError(
            f"{where}: unknown config key '{key}'; search keys are dotted "
            "config paths such as train.lr or model.head.dropout"
        ) from None
    if isinstance(value, dict):
        raise ConfigError(
            f"{where}: '{key}' is a section; search one of its keys, e.g. "
            f"{key}.{next(iter(value), '...')}"
        )


def _range(kind: str, bounds: Any, where: str) -> tuple:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise ConfigError(f"{where}: {kind} takes [low, high], got {bounds!r}")
    low, high = (_number(b) for b in bounds)
    numeric = all(isinstance(b, int | float) and not isinstance(b, bool) for b in (low, high))
    if not numeric or (kind == "int" and not all(isinstance(b, int) for b in (low, high))):
        what = "integers" if kind == "int" else "numbers"
        raise ConfigError(f"{where}: {kind} bounds must be {what}, got {bounds!r}")
    if low >= high:
        raise ConfigError(
            f"{where}: {kind} range [{low}, {high}] is inverted or empty; "
            "write [low, high] with low < high"
        )
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"{where}: log_uniform needs low > 0, got {low}; use uniform instead")
    return (low, high) if kind == "int" else (float(low), float(high))


def _choices(options: Any, where: str) -> tuple:
    if not isinstance(options, list | tuple) or not options:
        raise ConfigError(f"{where}: choice needs a non-empty list of options, got {options!r}")
    return tuple(_number(v) for v in options)


def _when(conditions: Any, raw: dict[str, Any], where: str) -> dict[str, tuple]:
    if conditions is None:
        return {}
    if not isinstance(conditions, dict) or not conditions:
        raise ConfigError(f"{where}.when: expected {{key: value or [values]}}, got {conditions!r}")
    for key in conditions:
        _check_leaf(key, raw, f"{where}.when")
    return {k: tuple(v) if isinstance(v, list) else (v,) for k, v in conditions.items()}


def _check_value(key: str, value: Any, raw: dict[str, Any], where: str) -> None:
    """The config itself must accept ``value`` at ``key`` (types, bounds, literals)."""
    trial_raw = copy.deepcopy(_as_read_by_a_strategy(raw, key))
    set_path(trial_raw, key, value)
    if key == "strategy.name":
        from tunelab.strategies import strategy_names

        if value not in strategy_names():
            raise ConfigError(
                f"{where} = {value!r}: unknown strategy; choose from {', '.join(strategy_names())}"
            )
        trial_raw["strategy"] = retarget_strategy(trial_raw["strategy"], value)
    validate_config(trial_raw, source=f"{where} = {value!r}")


def _number(value: Any) -> Any:
    if isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    return value


def _encode(value: Any) -> Any:
    """Optuna categoricals hold scalars; a list or mapping choice travels as JSON."""
    return json.dumps(value) if isinstance(value, list | dict) else value
