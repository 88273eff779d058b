"""Packing and batching: blocks respect max_length, packed documents stay apart."""

from __future__ import annotations

import pytest
import torch

from tests.tasks.causal_lm.conftest import tiny_decoder
from tunelab.errors import ConfigError
from tunelab.tasks.causal_lm.batches import CausalLMBatches, pack_examples
from tunelab.tasks.causal_lm.data import IGNORE_INDEX, CausalExample
from tunelab.tasks.causal_lm.model import no_cache_in_forward


def doc(*ids: int) -> CausalExample:
    """A document of ``ids`` starting with BOS (1), all but BOS supervised."""
    return CausalExample([1, *ids], [IGNORE_INDEX, *ids])


DOCS = [doc(5, 6, 7, 2), doc(8, 9, 2), doc(10, 2), doc(11, 12, 13, 14, 15, 2)]


def test_pack_examples_first_fit_decreasing() -> None:
    lengths = [5, 4, 3, 7, 2, 6]
    blocks = pack_examples(lengths, 10)
    assert blocks == [[2, 3], [1, 5], [0, 4]]  # 7+3, 6+4, 5+2
    assert sorted(i for b in blocks for i in b) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in b) <= 10 for b in blocks)


def test_pack_examples_refuses_an_example_longer_than_a_block() -> None:
    with pytest.raises(ConfigError, match="longer than max_length=4"):
        pack_examples([3, 5], 4)


def test_unpacked_collate_pads_right_with_mask() -> None:
    batches = CausalLMBatches.build(DOCS, pad_token_id=0, max_length=16)
    batch = batches.collate([2, 0])
    assert batch["input_ids"].tolist() == [[1, 10, 2, 0, 0], [1, 5, 6, 7, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1] * 5]
    assert batch["labels"].tolist() == [[-100, 10, 2, -100, -100], [-100, 5, 6, 7, 2]]
    assert "position_ids" not in batch
    assert len(batches) == 4 and batches.lengths == [5, 4, 3, 7]


def test_packed_collate_restarts_positions_and_unlabels_document_starts() -> None:
    batches = CausalLMBatches.build(DOCS, pad_token_id=0, max_length=10, pack=True)
    assert batches.packs == [[2, 3], [0, 1]]  # 3 + 7 tokens, then 5 + 4
    batch = batches.collate([0, 1])
    assert set(batch) == {"input_ids", "labels", "position_ids"}  # no mask: see docstring
    assert batch["input_ids"][0].tolist() == [1, 10, 2, 1, 11, 12, 13, 14, 15, 2]
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1, 2, 3, 4, 5, 6]
    assert batch["labels"][0].tolist() == [-100, 10, 2, -100, 11, 12, 13, 14, 15, 2]
    assert batch["position_ids"][1].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 0]
    assert batch["labels"][1].tolist() == [-100, 5, 6, 7, 2, -100, 8, 9, 2, -100]
    assert batch["input_ids"][1, -1] == 0  # padding


def test_packing_keeps_every_supervised_token() -> None:
    plain = CausalLMBatches.build(DOCS, 0, 16)
    packed = CausalLMBatches.build(DOCS, 0, 16, pack=True)
    assert packed.supervised_tokens == plain.supervised_tokens == 4 + 3 + 2 + 6


@pytest.mark.parametrize("model_type", ["llama", "qwen2", "mistral", "gpt2", "phi", "phi3"])
def test_packed_documents_do_not_attend_to_each_other(model_type: str) -> None:
    model = tiny_decoder(model_type, vocab_size=32)
    no_cache_in_forward(model)
    batches = CausalLMBatches.build(DOCS, pad_token_id=0, max_length=10, pack=True)
    batch = batches.collate([0])
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
        start = 0
        for i in batches.packs[0]:
            alone = model(input_ids=torch.tensor([DOCS[i].input_ids])).logits[0]
            torch.testing.assert_close(packed[start : start + len(DOCS[i])], alone)
            start += len(DOCS[i])


def test_packed_loss_equals_the_unpacked_loss() -> None:
    model = tiny_decoder("llama", vocab_size=32)
    no_cache_in_forward(model)
    with torch.no_grad():
        packed = CausalLMBatches.build(DOCS, 0, 16, pack=True)
        plain = CausalLMBatches.build(DOCS, 0, 16)
        loss_packed = model(**packed.collate(range(len(packed)))).loss
        loss_plain = model(**plain.collate(range(len(plain)))).loss
    torch.testing.assert_close(loss_packed, loss_plain)


def test_epoch_batches_are_deterministic_and_cover_every_item() -> None:
    examples = [doc(*range(3, 3 + n)) for n in (1, 9, 2, 8, 3, 7, 4, 6, 5, 1)]
    batches = CausalLMBatches.build(examples, 0, 16)
    first = batches.epoch_batches(3, seed=0, epoch=0, by_length=True)
    assert first == batches.epoch_batches(3, 0, 0, True)
    assert first != batches.epoch_batches(3, 0, 1, True)
    assert sorted(i for b in first for i in b) == list(range(10))
    widths = [
        max(batches.lengths[i] for i in b) - min(batches.lengths[i] for i in b) for b in first
    ]
    assert max(widths) <= 2  # length-grouped: little padding
    evaluation = batches.eval_batches(4)
    assert [batches.lengths[b[0]] for b in evaluation] == [10, 6, 2]  # longest first
    assert sorted(i for b in evaluation for i in b) == list(range(10))
