"""Load a run's model for prediction: the path behind ``tunelab predict`` and ``load()``.

The model card (``tunelab_model.json``) names the task; the task rebuilds its predictor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunelab.errors import ConfigError
from tunelab.run_dir import model_dir_of, read_model_card


def load(run_dir: str | Path, device: str = "cpu") -> Any:
    """Load the model saved by a run (``RUN_DIR`` or ``RUN_DIR/model``).

    Returns the predictor of the run's task (its ``predict`` takes raw inputs).
    """
    model_dir = model_dir_of(Path(run_dir))
    return run_task(run_dir).load_predictor(model_dir, read_model_card(model_dir), device)


def run_task(run_dir: str | Path) -> Any:
    """The :class:`~tunelab.tasks.Task` whose model a finished run saved (its model card
    names it), for commands that read inputs before loading the model."""
    from tunelab.tasks import get_task

    return get_task(read_model_card(model_dir_of(Path(run_dir)))["task"])


def field_options(task: Any, words: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``tunelab predict``'s words into plain arguments and the ``--<field> VALUE``
    options of a task whose inputs have named parts (``task.input_fields``).

    Raises:
        ConfigError: an option that is not one of the task's fields, or one without a
            value.
    """
    arguments: list[str] = []
    fields: dict[str, str] = {}
    words = list(words)
    while words:
        word = words.pop(0)
        if not word.startswith("--"):
            arguments.append(word)
            continue
        name = word[2:].partition("=")[0]
        if name not in task.input_fields:
            known = ", ".join(f"--{field}" for field in task.input_fields) or "none"
            raise ConfigError(
                f"predict: unknown option {word}; this {task.name} run takes --input and "
                f"the input fields: {known}"
            )
        if "=" in word:
            fields[name] = word.partition("=")[2]
        elif words:
            fields[name] = words.pop(0)
        else:
            raise ConfigError(f"predict: {word} needs a value, e.g. {word} 'some text'")
    return arguments, fields
