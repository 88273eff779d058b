"""Windows over long contexts: overlap, character offsets, answer targets."""

from __future__ import annotations

import pytest

from tests.tasks.question_answering.conftest import make_squad
from tunelab.errors import DataError
from tunelab.tasks.question_answering.data import Answer, QAExample, squad_examples
from tunelab.tasks.question_answering.windows import (
    KEY_STRIDE,
    WindowBatches,
    tokenize_windows,
)


@pytest.fixture(scope="module")
def tokenizer(qa_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(qa_model_dir))


def test_long_contexts_split_into_overlapping_windows(tokenizer):
    examples = squad_examples(make_squad(6), "x")
    windows = tokenize_windows(tokenizer, examples, max_length=24, doc_stride=6)
    assert len(windows) > len(examples)  # 27-token contexts do not fit 24 - question
    for i in range(len(windows) - 1):
        if windows.example_of[i] == windows.example_of[i + 1]:
            first = [o for o in windows.offsets[i] if o]
            second = [o for o in windows.offsets[i + 1] if o]
            assert first[-6:] == second[:6]  # doc_stride tokens shared
    assert max(len(r["input_ids"]) for r in windows.rows) <= 24


def test_targets_point_at_the_answer_or_cls(tokenizer):
    examples = squad_examples(make_squad(6), "x")
    windows = tokenize_windows(tokenizer, examples, max_length=24, doc_stride=6)
    found = set()
    for i, (start, end) in enumerate(windows.targets):
        example = examples[windows.example_of[i]]
        if (start, end) == (0, 0):
            continue
        offsets = windows.offsets[i]
        text = example.context[offsets[start][0] : offsets[end][1]]
        assert text == example.answers[0].text
        found.add(windows.example_of[i])
    assert found == set(range(len(examples)))  # every answer lies wholly in some window


def test_unanswerable_and_truncated_answers_target_cls(tokenizer):
    context = "ann likes tea . " * 6 + "bob likes rice ."
    example = QAExample(
        "q", "what does bob like ?", context, [Answer("rice", context.index("rice"))]
    )
    impossible = QAExample("n", "what does eve like ?", context, [])
    windows = tokenize_windows(tokenizer, [example, impossible], max_length=20, doc_stride=4)
    first_windows = [t for t, e in zip(windows.targets, windows.example_of, strict=True) if e == 0]
    assert first_windows[0] == (0, 0) and first_windows[-1] != (0, 0)
    assert all(t == (0, 0) for t, e in zip(windows.targets, windows.example_of, strict=True) if e)


def test_question_too_long_for_a_window_is_refused(tokenizer):
    example = QAExample("q", "what does ann like " * 10, "ann likes tea .", [])
    with pytest.raises(DataError, match="max_length"):
        tokenize_windows(tokenizer, [example], max_length=24, doc_stride=6)


def test_batches_pad_mask_and_carry_window_keys(tokenizer):
    examples = squad_examples(make_squad(3), "x")
    windows = tokenize_windows(tokenizer, examples, max_length=24, doc_stride=6)
    source = WindowBatches.build(windows, "test", tokenizer.pad_token_id)
    batch = source.collate([0, len(source) - 1])
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    assert batch["labels"][:, 2].tolist() == [2 * KEY_STRIDE, 2 * KEY_STRIDE + len(source) - 1]
    fixed = WindowBatches.build(windows, "train", tokenizer.pad_token_id, fixed_width=True)
    assert fixed.collate([0])["input_ids"].shape[1] == max(source.lengths)
