"""From start/end logits over windows to an answer span in the context's characters.

As HF's ``postprocess_qa_predictions``: in each window, pair the ``n_best`` highest
start logits with the ``n_best`` highest end logits, keep pairs inside the context
(offsets not None), in order and at most ``max_answer_length`` tokens long, and score a
span by start + end logit; the best span over all windows wins. The "no answer" score
is the lowest ``[CLS]`` start + end over the windows; its margin over the best span
decides abstention against a threshold tuned on validation (SQuAD 2.0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decoding:
    """How spans are chosen (``model.n_best`` / ``model.max_answer_length``)."""

    n_best: int = 20
    max_answer_length: int = 30


@dataclass(frozen=True)
class SpanAnswer:
    """A decoded answer: text and characters ``[start, end)`` in the context, the span's
    probability within its window, and ``no_answer_margin`` (null score - span score)."""

    text: str
    start: int
    end: int
    score: float
    no_answer_margin: float

    def to_dict(self) -> dict:
        """The JSON record ``predict`` prints and ``serve`` returns."""
        return {
            "answer": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
            "no_answer_margin": round(self.no_answer_margin, 4),
        }

    def abstained(self) -> SpanAnswer:
        """This answer replaced by "no answer" (the margin kept, the span dropped)."""
        return SpanAnswer("", -1, -1, self.score, self.no_answer_margin)


NO_SPAN = SpanAnswer("", -1, -1, 0.0, math.inf)


def decode_answer(
    context: str,
    window_logits: list[np.ndarray],
    window_offsets: list[list[tuple[int, int] | None]],
    decoding: Decoding,
) -> SpanAnswer:
    """The best span of one question over its windows (``[tokens, 2]`` logits each)."""
    best: tuple[float, int, int, float] | None = None  # score, start char, end char, prob
    null = math.inf
    for logits, offsets in zip(window_logits, window_offsets, strict=True):
        starts, ends = logits[: len(offsets), 0], logits[: len(offsets), 1]
        null = min(null, float(starts[0] + ends[0]))
        found = _best_in_window(starts, ends, offsets, decoding)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        return NO_SPAN
    score, start, end, probability = best
    return SpanAnswer(context[start:end], start, end, probability, null - score)


def _best_in_window(
    starts: np.ndarray, ends: np.ndarray, offsets: list, decoding: Decoding
) -> tuple[float, int, int, float] | None:
    top_starts = np.argsort(starts)[::-1][: decoding.n_best]
    top_ends = np.argsort(ends)[::-1][: decoding.n_best]
    best = None
    for s in top_starts:
        if offsets[s] is None:
            continue
        for e in top_ends:
            if offsets[e] is None or e < s or e - s + 1 > decoding.max_answer_length:
                continue
            score = float(starts[s] + ends[e])
            if best is None or score > best[0]:
                best = (score, int(s), int(e))
    if best is None:
        return None
    score, s, e = best
    probability = math.exp(score - _logsumexp(starts) - _logsumexp(ends))
    return score, offsets[s][0], offsets[e][1], probability


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + math.log(float(np.exp(values - top).sum()))


def apply_threshold(answer: SpanAnswer, threshold: float | None) -> SpanAnswer:
    """The answer, or "no answer" when its margin is over ``threshold`` (None: never)."""
    if threshold is None or answer.no_answer_margin <= threshold:
        return answer
    return answer.abstained()
