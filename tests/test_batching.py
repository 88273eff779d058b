"""Batch plans and dynamic padding: pure functions, no model needed."""

from __future__ import annotations

import numpy as np
import torch

from tunelab.batching import (
    FeatureBatches,
    TokenBatches,
    epoch_rng,
    length_grouped_batches,
    sequential_batches,
)

LENGTHS = [3, 40, 7, 12, 40, 5, 9, 33, 2, 18, 25, 6, 14, 30, 8, 11, 21, 4, 16, 27]


def _flat(batches: list[list[int]]) -> list[int]:
    return sorted(i for batch in batches for i in batch)


def test_length_grouped_batches_cover_every_example_once():
    batches = length_grouped_batches(LENGTHS, 4, epoch_rng(0, 0), mega=2)
    assert _flat(batches) == list(range(len(LENGTHS)))
    assert all(len(b) <= 4 for b in batches)


def test_length_grouped_batches_pad_less_than_random_batches():
    def padding(batches):
        return sum(
            max(LENGTHS[i] for i in b) * len(b) - sum(LENGTHS[i] for i in b) for b in batches
        )

    grouped = length_grouped_batches(LENGTHS, 4, epoch_rng(0, 0), mega=50)
    order = np.random.default_rng(0).permutation(len(LENGTHS)).tolist()
    shuffled = [order[i : i + 4] for i in range(0, len(order), 4)]
    assert padding(grouped) < padding(shuffled) / 2


def test_batch_order_depends_only_on_seed_and_epoch():
    plan = TokenBatches([{"input_ids": [1] * n} for n in LENGTHS], torch.zeros(20).long(), 0)
    assert plan.epoch_batches(4, 7, 3, True) == plan.epoch_batches(4, 7, 3, True)
    assert plan.epoch_batches(4, 7, 3, True) != plan.epoch_batches(4, 7, 4, True)


def test_sequential_batches_run_longest_first():
    batches = sequential_batches(LENGTHS, 5)
    firsts = [LENGTHS[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True) and firsts[0] == 40
    assert _flat(batches) == list(range(len(LENGTHS)))


def test_collate_pads_each_batch_to_its_own_longest_example():
    rows = [
        {"input_ids": [5, 6, 7], "attention_mask": [1, 1, 1]},
        {"input_ids": [8], "attention_mask": [1]},
    ]
    data = TokenBatches(rows, torch.tensor([1, 0]), pad_token_id=0)
    batch = data.collate([0, 1])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert data.collate([1])["input_ids"].shape == (1, 1)  # no padding to max_length


def test_fixed_size_sources_evaluate_in_order_and_shuffle_for_training():
    data = FeatureBatches(torch.randn(10, 4), torch.zeros(10).long())
    assert data.eval_batches(4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    epoch = data.epoch_batches(4, 0, 0, by_length=True)
    assert _flat(epoch) == list(range(10)) and epoch != data.eval_batches(4)
