"""Model pieces shared by tasks: the registry of known models and the classification head.

Each task package registers its own known models (``tunelab.tasks.text.model`` the
MiniLM encoder, ``tunelab.tasks.image.model`` EfficientNet-Lite0).
"""

from tunelab.models.registry import ModelSpec, list_models, register_model, resolve_model_path

__all__ = ["ModelSpec", "list_models", "register_model", "resolve_model_path"]
