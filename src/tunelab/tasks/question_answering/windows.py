"""Questions tokenized into overlapping windows of their context, and the batch source.

As in HF's ``run_qa.py``: each question is paired with its context (question first,
truncation ``only_second``), and a context too long for ``max_length`` tokens yields
several windows overlapping by ``doc_stride`` tokens. A fast tokenizer gives each
token's character ``offset_mapping``; offsets are kept for context tokens only, so any
predicted span maps back to characters of the context. A window's target is the token
span of the (first) answer when it lies wholly inside the window, else the ``[CLS]``
position 0: "not here", which is also the target of an unanswerable question.

Targets are ``[start, end, key]`` rows: ``key`` (split code and window index) is how
the objective finds, from a batch's rows, the offsets and questions to decode against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tunelab.batching import VariableLengthBatching
from tunelab.errors import DataError
from tunelab.tasks.question_answering.data import QAExample

SPLIT_CODES = {"train": 0, "validation": 1, "test": 2}
KEY_STRIDE = 1 << 24  # window keys: split code * KEY_STRIDE + window index
SPECIAL_TOKENS = 3  # [CLS] question [SEP] context [SEP]


@dataclass
class Windows:
    """Tokenized windows of some questions: what the model reads and how to map back.

    ``example_of[i]`` is the question window ``i`` belongs to; ``offsets[i][t]`` is the
    ``(start, end)`` characters of token ``t`` in the context, None outside it.
    """

    examples: list[QAExample]
    rows: list[dict[str, list[int]]]
    example_of: list[int]
    offsets: list[list[tuple[int, int] | None]]
    targets: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.rows)


def question_limit(max_length: int, doc_stride: int) -> int:
    """The most question tokens a window can hold and still advance by ``doc_stride``."""
    return max_length - doc_stride - SPECIAL_TOKENS - 1


def too_long_questions(tokenizer, examples: Sequence[QAExample], limit: int) -> list[int]:
    """Indices of questions over ``limit`` tokens (they leave no room for the context)."""
    if not examples:
        return []
    ids = tokenizer([e.question for e in examples], add_special_tokens=False)["input_ids"]
    return [i for i, row in enumerate(ids) if len(row) > limit]


def tokenize_windows(
    tokenizer, examples: Sequence[QAExample], max_length: int, doc_stride: int
) -> Windows:
    """Every question's windows, offsets and targets.

    Raises:
        DataError: the tokenizer is not a fast one (no offsets), or a question is longer
            than :func:`question_limit` allows.
    """
    if not getattr(tokenizer, "is_fast", False):
        raise DataError(
            "question answering needs a fast tokenizer (character offsets); the model "
            "folder's tokenizer has none: save it with a tokenizer.json"
        )
    limit = question_limit(max_length, doc_stride)
    long = too_long_questions(tokenizer, examples, limit)
    if long:
        raise DataError(
            f"question {examples[long[0]].id!r} is over {limit} tokens; shorten it or raise "
            "model.max_length / lower model.doc_stride"
        )
    if not examples:
        return Windows([], [], [], [], [])
    enc = tokenizer(
        [e.question.lstrip() for e in examples],
        [e.context for e in examples],
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
    windows = Windows(list(examples), [], [], [], [])
    for i, example_index in enumerate(enc["overflow_to_sample_mapping"]):
        sequence = enc.sequence_ids(i)
        offsets = [
            tuple(span) if sequence[t] == 1 else None
            for t, span in enumerate(enc["offset_mapping"][i])
        ]
        windows.rows.append({k: enc[k][i] for k in keys})
        windows.example_of.append(example_index)
        windows.offsets.append(offsets)
        windows.targets.append(answer_tokens(examples[example_index], offsets))
    return windows


def answer_tokens(example: QAExample, offsets: list[tuple[int, int] | None]) -> tuple[int, int]:
    """The first and last token of the first answer in this window, or ``(0, 0)``."""
    if not example.answers:
        return 0, 0
    answer = example.answers[0]
    inside = [t for t, span in enumerate(offsets) if span is not None]
    if not inside or offsets[inside[0]][0] > answer.start or offsets[inside[-1]][1] < answer.end:
        return 0, 0
    start = next(t for t in inside if offsets[t][1] > answer.start)
    end = next(t for t in reversed(inside) if offsets[t][0] < answer.end)
    return start, max(start, end)


@dataclass
class WindowBatches(VariableLengthBatching):
    """The trainer's batch source over windows (the ``TokenBatches`` interface).

    ``width``: pad every batch to this many tokens (the feature-extraction cache stores
    one fixed-size row per window); None pads each batch to its longest window.
    """

    windows: Windows
    labels: torch.Tensor
    pad_token_id: int
    width: int | None = None

    @classmethod
    def build(
        cls, windows: Windows, split: str, pad_token_id: int, fixed_width: bool = False
    ) -> WindowBatches:
        """Batches of ``windows`` with ``[start, end, key]`` targets for ``split``."""
        code = SPLIT_CODES[split] * KEY_STRIDE
        labels = torch.tensor(
            [[s, e, code + i] for i, (s, e) in enumerate(windows.targets)], dtype=torch.long
        ).reshape(-1, 3)
        width = max((len(r["input_ids"]) for r in windows.rows), default=1) if fixed_width else None
        return cls(windows, labels, pad_token_id, width)

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def lengths(self) -> list[int]:
        """Token count of every window."""
        return [len(row["input_ids"]) for row in self.windows.rows]

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """The chosen windows, right-padded, with a mask and their targets."""
        rows = [self.windows.rows[i] for i in indices]
        width = self.width or max(len(r["input_ids"]) for r in rows)
        batch = {
            key: torch.tensor(
                [r[key] + [self.pad_token_id if key == "input_ids" else 0] * (width - len(r[key]))
                 for r in rows]
            )
            for key in rows[0]
        }  # fmt: skip
        batch["attention_mask"] = torch.tensor(
            [[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in rows]
        )
        batch["labels"] = self.labels[list(indices)]
        return batch
