"""Backbones by family, and the registry of known models."""

from tunelab.models import text, vision  # noqa: F401  (registers the known models)
from tunelab.models.registry import ModelSpec, list_models, register_model, resolve_model_path

__all__ = ["ModelSpec", "list_models", "register_model", "resolve_model_path"]
