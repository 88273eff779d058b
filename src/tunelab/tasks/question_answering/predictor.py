"""Answer questions about contexts with a trained span model: what ``tunelab.load``
returns for a question-answering run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.errors import DataError
from tunelab.tasks.question_answering.data import QAExample
from tunelab.tasks.question_answering.decode import (
    Decoding,
    SpanAnswer,
    apply_threshold,
    decode_answer,
)
from tunelab.tasks.question_answering.model import SpanModel
from tunelab.tasks.question_answering.windows import (
    WindowBatches,
    question_limit,
    tokenize_windows,
    too_long_questions,
)

FIELDS = ("question", "context")


class QAPredictor:
    """A span model with its tokenizer and decoding settings.

    ``predict`` takes ``{"question", "context"}`` dicts (or ``(question, context)``
    pairs) and returns one :class:`SpanAnswer` each: the answer text, its characters in
    the context, and its score. An empty answer means the model abstained (only a model
    trained on unanswerable questions does).
    """

    def __init__(
        self,
        model: SpanModel,
        tokenizer,
        max_length: int,
        doc_stride: int,
        decoding: Decoding,
        threshold: float | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.tokenizer, self.max_length, self.doc_stride = tokenizer, max_length, doc_stride
        self.decoding, self.threshold, self.device = decoding, threshold, torch.device(device)

    @torch.inference_mode()
    def predict(self, inputs: Sequence[Any], batch_size: int = 32) -> list[SpanAnswer]:
        """One answer per input, in order.

        Raises:
            DataError: an input without a question and a context, or a question longer
                than a window can hold.
        """
        examples = [as_example(item, i) for i, item in enumerate(inputs)]
        if not examples:
            return []
        windows = tokenize_windows(self.tokenizer, examples, self.max_length, self.doc_stride)
        data = WindowBatches.build(windows, "test", self.tokenizer.pad_token_id or 0)
        logits: list[np.ndarray] = [np.empty(0)] * len(windows)
        for indices in data.eval_batches(batch_size):
            batch = data.collate(indices)
            batch.pop("labels")
            out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
            for row, i in enumerate(indices):
                logits[i] = out[row].float().cpu().numpy()
        return [self._answer(windows, e, logits) for e in range(len(examples))]

    def _answer(self, windows, example: int, logits: list[np.ndarray]) -> SpanAnswer:
        indices = [i for i, e in enumerate(windows.example_of) if e == example]
        answer = decode_answer(
            windows.examples[example].context,
            [logits[i] for i in indices],
            [windows.offsets[i] for i in indices],
            self.decoding,
        )
        return apply_threshold(answer, self.threshold)

    def predict_records(self, records: Sequence[dict], batch_size: int = 32) -> list[dict]:
        """Each input record with its answer added, in order; a record that already holds
        an ``error``, or whose question is too long, keeps an error instead."""
        limit = question_limit(self.max_length, self.doc_stride)
        usable = [r for r in records if "error" not in r]
        long = set(too_long_questions(self.tokenizer, [as_example(r, 0) for r in usable], limit))
        answerable = [r for i, r in enumerate(usable) if i not in long]
        found = iter(self.predict(answerable, batch_size))
        out, position = [], 0
        for record in records:
            if "error" in record:
                out.append(dict(record))
                continue
            if position in long:
                out.append({**record, "error": f"question over {limit} tokens; shorten it"})
            else:
                out.append({**record, **next(found).to_dict()})
            position += 1
        return out


def as_example(item: Any, index: int) -> QAExample:
    """A ``{"question", "context"}`` dict or ``(question, context)`` pair as an example.

    Raises:
        DataError: a missing or empty question or context.
    """
    if isinstance(item, dict):
        question, context = item.get("question"), item.get("context")
    elif isinstance(item, list | tuple) and len(item) == 2:
        question, context = item
    else:
        question = context = None
    for name, value in (("question", question), ("context", context)):
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"input {index + 1}: no {name}; give {{'question': ..., 'context': ...}}"
            )
    return QAExample(str(index), question, context)


def load_qa_predictor(model_dir: Path, card: dict, device: str = "cpu") -> QAPredictor:
    """The span model saved in ``model_dir`` (an ``AutoModelForQuestionAnswering`` folder)."""
    from tunelab.tasks.question_answering.save import load_span_model
    from tunelab.tasks.text.model import load_tokenizer

    return QAPredictor(
        load_span_model(model_dir),
        load_tokenizer(model_dir),
        card["max_length"],
        card["doc_stride"],
        Decoding(card["n_best"], card["max_answer_length"]),
        card.get("no_answer_threshold"),
        device,
    )
