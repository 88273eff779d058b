"""Config text in YAML: the config file, ``--set KEY=VALUE`` overrides, and YAML 1.1's
surprises undone.

Both sources are parsed as YAML so a value means the same in a file and on the command
line; where YAML 1.1 reads something other than what users mean (``1e-4`` a string,
``no`` a boolean) the reading is corrected here, in one place. A file or override that
cannot be read is one :class:`ConfigError` naming it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel

from tunelab.errors import ConfigError


def read_yaml(path: Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file (empty for an empty file).

    Raises:
        ConfigError: a missing file, text that is not UTF-8 or not YAML, or a top level
            that is not a mapping.
    """
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {err.start}); save the config as UTF-8"
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({err.__class__.__name__})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``train.lr=1e-4`` into a key path and a YAML-typed value.

    The value is parsed with YAML so ``3`` is an int, ``1e-4`` a float, ``[64, 32]`` a
    list and ``null`` is None, exactly as it would be in the config file.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.lr=1e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        raise ConfigError(
            f"--set {text!r}: the value is not valid YAML; quote it, e.g. --set 'KEY=\"...\"'"
        ) from None
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


def yaml_word(section: type[BaseModel], key: str, value: Any) -> Any:
    """``value``, or the word the user wrote where YAML 1.1 read a bare ``no``/``off``/
    ``on``/``yes`` as a boolean and ``section``'s field ``key`` takes words."""
    if not isinstance(value, bool) or key not in section.model_fields:
        return value
    words = _literal_words(section.model_fields[key].annotation)
    for word in ({True: ("on", "yes", "true"), False: ("off", "no", "false")})[value]:
        if word in words:
            return word
    return value


def _literal_words(annotation: Any) -> set[str]:
    """Every string a ``Literal[...]`` (possibly inside ``X | None``) accepts."""
    if get_origin(annotation) is Literal:
        return {a for a in get_args(annotation) if isinstance(a, str)}
    return {w for arg in get_args(annotation) for w in _literal_words(arg)}
