"""The ``model`` and ``data`` sections of a question-answering run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunelab.config import DataConfig, ModelConfig


class QAModelConfig(ModelConfig):
    """An HF encoder (known name or local directory) with a start/end span head.

    A context longer than ``max_length`` tokens (with its question) is read in
    overlapping windows that share ``doc_stride`` tokens, as in HF's ``run_qa.py``; an
    answer is the best span over all windows, at most ``max_answer_length`` tokens,
    chosen among the ``n_best`` start and end positions of each window.
    """

    name: str = "all-MiniLM-L6-v2"
    max_length: int = Field(384, ge=32)
    doc_stride: int = Field(128, ge=1)
    max_answer_length: int = Field(30, ge=1)
    n_best: int = Field(20, ge=1)
    # As in the text task: a folder's own Python code runs only when this is true.
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _stride_fits(self) -> QAModelConfig:
        if self.doc_stride > self.max_length // 2:
            raise ValueError(
                f"doc_stride={self.doc_stride} must be at most max_length / 2 "
                f"({self.max_length // 2}): windows would overlap more than they advance"
            )
        return self


class QADataConfig(DataConfig):
    """Where questions come from and how many of them a run uses.

    Sources are SQuAD JSON (``data/paragraphs/qas/answers``; SQuAD 2.0's
    ``is_impossible`` too), ``builtin:squad-v1.1-train`` / ``builtin:squad-v1.1-dev``,
    or JSONL/CSV rows with the four columns named below (an empty answer is an
    unanswerable question). ``val_fraction`` / ``test_fraction`` split by context, so no
    paragraph is read in two splits. ``span_mismatch``: an answer whose text is not found
    at its ``answer_start`` is dropped with a warning, or stops the run (``error``).
    """

    context_column: str = "context"
    question_column: str = "question"
    answer_text_column: str = "answer_text"
    answer_start_column: str = "answer_start"
    # Seeded samples, for runs that fit a CPU budget: questions of the training split,
    # and of each of validation and test.
    max_train_questions: int | None = Field(None, ge=1)
    max_eval_questions: int | None = Field(None, ge=1)
    span_mismatch: Literal["drop", "error"] = "drop"
