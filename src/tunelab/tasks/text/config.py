"""The ``model`` and ``data`` sections of a text classification run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunelab.config import _Section
from tunelab.tasks.classification import ClassifierModelConfig
from tunelab.tasks.targets import TargetDataConfig


class TextModelConfig(ClassifierModelConfig):
    """An HF encoder (known name or local directory) with a pooled classification head."""

    name: str = "all-MiniLM-L6-v2"
    pooling: Literal["mean", "cls"] = "mean"
    max_length: int = Field(128, ge=8)
    drop_top_layers: int = Field(0, ge=0)
    # A model folder whose config.json maps to its own Python code runs that code only
    # when this is true (printed and recorded in config.yaml); never by default.
    trust_remote_code: bool = False


class TextAugmentConfig(_Section):
    """EDA-style training-text augmentation (tunelab.tasks.text.augment); off at copies 0.

    Each copy of a training text applies one operation, drawn among those above 0:
    ``delete`` drops each word with that probability; ``swap`` swaps that share of word
    pairs; ``synonym`` replaces that share of words by one of their ``neighbours``
    nearest words in the backbone's input embeddings (which can be antonyms: good/bad).
    """

    copies: int = Field(0, ge=0)  # augmented copies per training text; 0 = off
    delete: float = Field(0.1, ge=0.0, lt=1.0)
    swap: float = Field(0.1, ge=0.0, le=1.0)
    synonym: float = Field(0.0, ge=0.0, le=1.0)
    neighbours: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _an_operation(self) -> TextAugmentConfig:
        if self.copies and not (self.delete or self.swap or self.synonym):
            raise ValueError("data.augment.copies > 0 needs one of delete, swap, synonym above 0")
        return self


class TextDataConfig(TargetDataConfig):
    """Which columns hold text and label, and how rows are cleaned."""

    text_column: str = "text"
    missing: Literal["drop", "fill"] = "drop"
    fill_value: str = ""
    lowercase: bool = False
    dedupe: bool = True
    encoding_errors: Literal["error", "replace"] = "error"
    # texts without labels (CSV/JSONL/TSV/Parquet with text_column, or .txt: one a line)
    # for self-training (section self_training); a label column there only checks them
    unlabeled: str | None = None
    # validation / test texts that also occur in train (case and spacing ignored): warn,
    # or drop them from validation / test (counted in data_summary.json "leakage")
    leakage: Literal["warn", "drop"] = "warn"
    augment: TextAugmentConfig = Field(default_factory=TextAugmentConfig)

    @model_validator(mode="after")
    def _class_only_keys(self) -> TextDataConfig:
        """These keys read single-label rows; label sets and values refuse them."""
        if self.problem_type != "single_label":
            for key, set_ in (
                ("leakage", self.leakage != "warn"),
                ("augment", self.augment.copies),
            ):
                if set_:
                    raise ValueError(
                        f"data.{key} applies to single-label classes, not problem_type "
                        f"{self.problem_type}; drop it"
                    )
        return self
