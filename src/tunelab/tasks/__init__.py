"""Tasks (text and image classification) behind one interface, registered by name."""

from tunelab.tasks import image, text  # noqa: F401  (registers the tasks)
from tunelab.tasks.base import BuiltModel, Task, get_task, register_task


def task_for_model(name: str) -> Task:
    """The task a model name belongs to: images for known image models and timm names."""
    from tunelab.models.vision import is_image_model

    return get_task("image_classification" if is_image_model(name) else "text_classification")


__all__ = ["BuiltModel", "Task", "get_task", "register_task", "task_for_model"]
