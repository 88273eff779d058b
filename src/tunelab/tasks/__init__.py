"""Tasks behind one contract (:class:`Task`), registered by name.

A new task is one package under ``tunelab/tasks/`` plus its import line below.
"""

# Registration lines: importing a task package registers it (one line per task).
from tunelab.config import DEFAULT_TASK
from tunelab.tasks import (
    audio,  # noqa: F401
    image,  # noqa: F401
    text,  # noqa: F401
    timeseries,  # noqa: F401
)
from tunelab.tasks.base import (
    BuiltModel,
    ExportSignature,
    Task,
    TaskSections,
    all_tasks,
    get_task,
    register_task,
    task_names,
)
from tunelab.tasks.causal_lm import task as causal_lm  # noqa: F401
from tunelab.tasks.question_answering import task as question_answering  # noqa: F401


def task_for_model(name: str) -> Task:
    """The task a model name belongs to (a local directory: the default task)."""
    owners = [task for task in all_tasks() if task.owns_model(name)]
    return owners[0] if owners else get_task(DEFAULT_TASK)


__all__ = [
    "BuiltModel",
    "ExportSignature",
    "Task",
    "TaskSections",
    "all_tasks",
    "get_task",
    "register_task",
    "task_for_model",
    "task_names",
]
