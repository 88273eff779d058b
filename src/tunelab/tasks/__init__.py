"""Tasks behind one contract (:class:`Task`), registered by name.

A new task is one package under ``tunelab/tasks/`` plus its import line below.
"""

# Registration lines: importing a task package registers it.
from tunelab.tasks import (
    image,  # noqa: E402, F401
    text,  # noqa: E402, F401, I001
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

DEFAULT_TASK = "text_classification"


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
