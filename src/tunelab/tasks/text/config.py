"""The ``model`` and ``data`` sections of a text classification run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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
    # validation / test texts that also occur in train (case and spacing ignored): warn,
    # or drop them from validation / test (counted in data_summary.json "leakage")
    leakage: Literal["warn", "drop"] = "warn"

    @model_validator(mode="after")
    def _class_only_keys(self) -> TextDataConfig:
        """These keys read single-label rows; label sets and values refuse them."""
        if self.problem_type != "single_label":
            for key, set_ in (("leakage", self.leakage != "warn"),):
                if set_:
                    raise ValueError(
                        f"data.{key} applies to single-label classes, not problem_type "
                        f"{self.problem_type}; drop it"
                    )
        return self
