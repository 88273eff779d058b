"""Span loss and SQuAD scores: what the trainer optimises and early-stops on.

The loss is HF's for extractive QA: cross-entropy of the start position plus that of
the end position, halved. Scores need whole questions, not windows: an evaluation pass
collects every window's logits, decodes each question over its windows
(:mod:`~tunelab.tasks.question_answering.decode`) and scores the answers with the SQuAD
script's exact match and F1. A batch's targets carry each window's key, which names the
split and the window, so the objective knows what it is scoring. On validation it also
tunes the no-answer threshold (when the data has unanswerable questions); test and the
predictor use the tuned value.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from tunelab.objective import Batches, EvalResult, MetricSpec, Objective
from tunelab.tasks.question_answering.decode import Decoding, apply_threshold, decode_answer
from tunelab.tasks.question_answering.metrics import best_threshold, score_one, squad_scores
from tunelab.tasks.question_answering.splits import QAState
from tunelab.tasks.question_answering.windows import KEY_STRIDE, SPLIT_CODES, Windows

SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}


def span_loss(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean"):
    """(start CE + end CE) / 2 for ``[batch, tokens, 2]`` logits and ``[batch, 3]``
    targets (start, end, key)."""
    start = F.cross_entropy(logits[..., 0].float(), targets[:, 0], reduction=reduction)
    end = F.cross_entropy(logits[..., 1].float(), targets[:, 1], reduction=reduction)
    return (start + end) / 2


class SpanObjective(Objective):
    """Start/end cross-entropy; exact match and F1 (0-100) over decoded answers."""

    metrics = (
        MetricSpec("loss", "loss", "min", "loss"),
        MetricSpec("exact_match", "exact match", "max", "em", scale=100.0),
        MetricSpec("f1", "F1", "max", "f1", scale=100.0),
    )
    monitor = "f1"
    headline = ("exact_match", "f1")

    def __init__(
        self,
        windows: dict[str, Windows],
        decoding: Decoding,
        state: QAState,
        abstains: bool,
    ) -> None:
        """``windows`` per split name; ``abstains``: tune a no-answer threshold."""
        self.windows, self.decoding, self.state, self.abstains = (
            windows,
            decoding,
            state,
            abstains,
        )

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return span_loss(outputs, targets)

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return 0.0

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        total, count, split = 0.0, 0, "validation"
        logits: dict[int, np.ndarray] = {}
        for _, outputs, targets in batches:
            total += float(span_loss(outputs, targets, reduction="sum"))
            count += len(targets)
            keys = targets[:, 2].tolist()
            split = SPLIT_NAMES[keys[0] // KEY_STRIDE]
            values = outputs.float().cpu().numpy()
            for row, key in enumerate(keys):
                logits[key % KEY_STRIDE] = values[row]
        metrics = self.score(split, logits)
        metrics["loss"] = total / max(count, 1)
        return EvalResult(metrics)

    def score(self, split: str, logits: dict[int, np.ndarray]) -> dict:
        """Decode every question of ``split`` and score it; tune the threshold on
        validation; keep the predictions in the run's state for the report."""
        windows = self.windows[split]
        per_example: dict[int, list[int]] = defaultdict(list)
        for index, example in enumerate(windows.example_of):
            if index in logits:
                per_example[example].append(index)
        answers = {
            e: decode_answer(
                windows.examples[e].context,
                [logits[i] for i in indices],
                [windows.offsets[i] for i in indices],
                self.decoding,
            )
            for e, indices in per_example.items()
        }
        order = sorted(answers)
        golds = [[a.text for a in windows.examples[e].answers] for e in order]
        extra = {}
        if self.abstains and split == "validation":
            answered = [score_one(answers[e].text, g)[1] for e, g in zip(order, golds, strict=True)]
            margins = [answers[e].no_answer_margin for e in order]
            has = [bool(g) for g in golds]
            self.state.threshold, _ = best_threshold(margins, answered, has)
            extra["no_answer_threshold"] = self.state.threshold
        final = {e: apply_threshold(answers[e], self.state.threshold) for e in order}
        self.state.predictions[split] = [
            {**windows.examples[e].to_record(), **final[e].to_dict()} for e in order
        ]
        return {**squad_scores([final[e].text for e in order], golds), **extra}
