"""Span decoding over windows, and the no-answer threshold."""

from __future__ import annotations

import numpy as np

from tunelab.tasks.question_answering.decode import Decoding, apply_threshold, decode_answer

CONTEXT = "ann likes tea and bob likes rice"
# tokens: [CLS] q [SEP] ann likes tea and bob likes rice [SEP]
OFFSETS = [None, None, None, (0, 3), (4, 9), (10, 13), (14, 17), (18, 21), (22, 27), (28, 32), None]


def logits(start: int, end: int, strength: float = 5.0, null: float = 0.0) -> np.ndarray:
    out = np.zeros((len(OFFSETS), 2))
    out[start, 0] = out[end, 1] = strength
    out[0] = null  # [CLS] start and end: a null score of 2 * null
    return out


def test_best_span_maps_back_to_characters():
    answer = decode_answer(CONTEXT, [logits(5, 5)], [OFFSETS], Decoding())
    assert (answer.text, answer.start, answer.end) == ("tea", 10, 13)
    assert CONTEXT[answer.start : answer.end] == answer.text
    assert 0 < answer.score <= 1


def test_spans_outside_the_context_or_too_long_are_skipped():
    out = logits(1, 9)  # starts in the question: not a span of the context
    out[3, 0] = 2.0
    answer = decode_answer(CONTEXT, [out], [OFFSETS], Decoding())
    assert answer.text == "ann likes tea and bob likes rice"
    short = decode_answer(CONTEXT, [out], [OFFSETS], Decoding(max_answer_length=2))
    assert len(short.text.split()) <= 2


def test_the_best_window_wins_and_null_is_the_lowest_cls():
    answer = decode_answer(
        CONTEXT,
        [logits(5, 5, 1.0, null=3.0), logits(9, 9, 4.0, null=1.0)],
        [OFFSETS, OFFSETS],
        Decoding(),
    )
    assert answer.text == "rice"
    assert answer.no_answer_margin == 2 * 1.0 - 8.0


def test_threshold_abstains_above_it_and_none_never_abstains():
    answer = decode_answer(CONTEXT, [logits(5, 5, 1.0, null=5.0)], [OFFSETS], Decoding())
    assert answer.no_answer_margin == 10.0 - 2.0
    assert apply_threshold(answer, 7.0).text == ""
    assert apply_threshold(answer, 8.0).text == "tea"
    assert apply_threshold(answer, None).text == "tea"
