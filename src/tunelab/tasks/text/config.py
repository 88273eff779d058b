"""The ``model`` and ``data`` sections of a text classification run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.tasks.classification import ClassificationDataConfig, ClassifierModelConfig


class TextModelConfig(ClassifierModelConfig):
    """An HF encoder (known name or local directory) with a pooled classification head."""

    name: str = "all-MiniLM-L6-v2"
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = Field(128, ge=8)
    drop_top_layers: int = Field(0, ge=0)
    # A model folder whose config.json maps to its own Python code runs that code only
    # when this is true (printed and recorded in config.yaml); never by default.
    trust_remote_code: bool = False


class TextDataConfig(ClassificationDataConfig):
    """Which columns hold text and label, and how rows are cleaned."""

    text_column: str = "text"
    missing: Literal["drop", "fill"] = "drop"
    fill_value: str = ""
    lowercase: bool = False
    dedupe: bool = True
    encoding_errors: Literal["error", "replace"] = "error"
    # HF's problem_type: one class per text; a set of labels (a list, or a string split
    # on label_separator); or a number. See tunelab.tasks.text.targets.
    problem_type: Literal["single_label", "multi_label", "regression"] = "single_label"
    label_separator: str = Field(",", min_length=1)
