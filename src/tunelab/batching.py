"""Batches for training and evaluation: pre-tokenized, length-grouped, padded per batch.

Texts are tokenized once. Each batch is padded only to its own longest text (dynamic
padding), and batches group texts of similar length, so short-text data sets do not pay
for ``max_length`` tokens per example.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """A generator that depends only on (seed, epoch): resume replays the same order."""
    return np.random.default_rng([seed, epoch])


def shuffled_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """A random permutation cut into batches (the last one may be short)."""
    order = rng.permutation(n).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, mega: int = 50
) -> list[list[int]]:
    """Shuffle, sort within mega-batches of ``mega * batch_size`` by length, shuffle batches.

    Same idea as HF's ``LengthGroupedSampler``: little padding, yet random enough that
    every epoch sees different batch compositions.
    """
    order = rng.permutation(len(lengths)).tolist()
    span = mega * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: -lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def sequential_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Evaluation order: longest first, so padding is minimal and memory peaks early."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class VariableLengthBatching:
    """Batch plans for sources whose examples have lengths (``self.lengths``).

    Training batches group similar lengths (little padding), shuffled and deterministic
    in (seed, epoch); evaluation batches run longest first.
    """

    lengths: Sequence[int]

    def epoch_batches(
        self, batch_size: int, seed: int, epoch: int, by_length: bool
    ) -> list[list[int]]:
        """This epoch's training batches, deterministic in (seed, epoch)."""
        rng = epoch_rng(seed, epoch)
        if by_length:
            return length_grouped_batches(self.lengths, batch_size, rng)
        return shuffled_batches(len(self.lengths), batch_size, rng)

    def eval_batches(self, batch_size: int) -> list[list[int]]:
        """Evaluation batches, longest first."""
        return sequential_batches(self.lengths, batch_size)


class FixedSizeBatching:
    """Batch plans for sources whose examples all have one size (features, images)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def epoch_batches(
        self, batch_size: int, seed: int, epoch: int, by_length: bool
    ) -> list[list[int]]:
        """Shuffled batches, deterministic in (seed, epoch); ``by_length`` has no effect."""
        return shuffled_batches(len(self), batch_size, epoch_rng(seed, epoch))

    def eval_batches(self, batch_size: int) -> list[list[int]]:
        """Batches in order."""
        n = len(self)
        return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


@dataclass
class TokenBatches(VariableLengthBatching):
    """Tokenized texts with labels; builds padded tensor batches from index lists."""

    encodings: list[dict[str, list[int]]]
    labels: torch.Tensor
    pad_token_id: int

    @classmethod
    def from_texts(
        cls, tokenizer, texts: Sequence[str], labels: Sequence[int], max_length: int
    ) -> TokenBatches:
        """Tokenize once, truncating to ``max_length``; no padding yet."""
        enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        rows = [{k: enc[k][i] for k in keys} for i in range(len(texts))]
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        return cls(rows, torch.as_tensor(list(labels), dtype=torch.long), pad)

    def __len__(self) -> int:
        return len(self.encodings)

    @property
    def lengths(self) -> list[int]:
        """Token count of every example."""
        return [len(e["input_ids"]) for e in self.encodings]

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Pad the chosen examples to their longest one."""
        rows = [self.encodings[i] for i in indices]
        width = max(len(r["input_ids"]) for r in rows)
        batch = {}
        for key in rows[0]:
            fill = self.pad_token_id if key == "input_ids" else 0
            batch[key] = torch.tensor([r[key] + [fill] * (width - len(r[key])) for r in rows])
        batch["labels"] = self.labels[list(indices)]
        return batch


@dataclass
class FeatureBatches(FixedSizeBatching):
    """Cached pooled features with labels (the feature-extraction path)."""

    features: torch.Tensor
    labels: torch.Tensor
    # A head on pooled features is ops of a few thousand numbers: a second intra-op thread
    # only adds fork/join, and on a busy machine waiting for it costs milliseconds per op.
    intra_op_threads: ClassVar[int] = 1

    def __len__(self) -> int:
        return len(self.labels)

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Rows of the cached features; no tokenization, no backbone."""
        idx = torch.as_tensor(list(indices))
        return {"features": self.features[idx], "labels": self.labels[idx]}
