"""One actionable line for a config that fails validation.

Pydantic's report names a location inside the generated config class; a user needs the
dotted key, who would read it (the task, the strategy, or the config itself), and the
key they probably meant. A misspelt key that gets only "extra inputs are not permitted"
costs a user a search through the docs.
"""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from tunelab.errors import ConfigError


def validation_error(
    err: ValidationError, cls: type[BaseModel], source: str, task: str, strategy: str
) -> ConfigError:
    """The :class:`ConfigError` for the first problem ``err`` reports about a config of
    class ``cls`` for ``task`` and ``strategy`` read from ``source``."""
    first = err.errors()[0]
    # union members ("constrained-float", "literal['auto']") are not config keys
    where = ".".join(str(p) for p in first["loc"] if isinstance(p, int) or p.isidentifier())
    if first["type"] != "extra_forbidden":
        return ConfigError(f"{source}: {where}: {first['msg']} (got {first.get('input')!r})")
    return ConfigError(
        f"{source}: unknown key '{where}': not a key of {_owner(first['loc'], task, strategy)}"
        f"{_did_you_mean(cls, first['loc'])}; see docs/config.md for the valid keys"
    )


def _owner(loc: tuple, task: str, strategy: str) -> str:
    """Who would read the misplaced key: the strategy, the task, or the config itself."""
    if not loc[:-1]:
        return "the config" + _readers(str(loc[0]))
    if loc[0] == "strategy":
        return f"strategy '{strategy}'"
    if loc[0] in ("model", "data", "train"):
        return f"the {loc[0]} section of task '{task}'"
    return f"section '{'.'.join(map(str, loc[:-1]))}'"


def _readers(section: str) -> str:
    """`` (section 'forecast' is read by task 'forecasting')`` for a task-owned section."""
    from tunelab.tasks import all_tasks

    tasks = [task.name for task in all_tasks() if section in task.sections().extra]
    return f" (section '{section}' is read by task {', '.join(tasks)})" if tasks else ""


def _did_you_mean(cls: type[BaseModel], loc: tuple) -> str:
    """``" (did you mean 'train.epochs'?)"`` for a misspelt key, else ``""``."""
    section: Any = cls
    for part in loc[:-1]:
        field = getattr(section, "model_fields", {}).get(part)
        section = _model_class(getattr(field, "annotation", None))
        if section is None:
            return ""
    close = difflib.get_close_matches(str(loc[-1]), list(section.model_fields), n=1)
    return f" (did you mean '{'.'.join([*map(str, loc[:-1]), close[0]])}'?)" if close else ""


def _model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic class behind an annotation (``SerializeAsAny[X]`` unwrapped)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_class, get_args(annotation))), None)
