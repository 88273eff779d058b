"""Batches of causal-LM examples: length-grouped and padded per batch, or packed.

Unpacked (the default), each example is one row of the batch; batches group similar
lengths (``VariableLengthBatching``, as for text classification) and are padded to their
longest row on the right, padding masked by ``attention_mask`` and -100 labels.

Packed, whole examples are placed into blocks of at most ``max_length`` tokens (first-fit
decreasing; an example is never split across blocks), and each block is one row.
Packed documents do NOT attend to each other: a packed batch carries ``position_ids``
that restart at 0 for every document and no ``attention_mask``, and transformers' mask
builder (``masking_utils``, used by Llama, Qwen2, Mistral, Gemma, Phi, Phi-3 and GPT-2
in transformers 5) turns restarting positions into a block-diagonal causal mask, provided
the forward pass builds no KV cache (``use_cache=False``, which ``load_causal_lm`` sets
in the model config; with a cache the resets are ignored). So a
document's logits are the same packed or alone (tested), and each document also gets
the position ids it will see at inference. Right padding needs no mask in a causal
model: pad tokens come after every real token, and no token attends forward. The first
token of each packed document is unlabelled: it would otherwise be "predicted" from the
previous document's last token. On a model whose attention ignores position-id resets
(older remote-code architectures) packed documents would see earlier ones in the block,
as in GPT-style pre-training: harmless for the loss but a mismatch with inference, which
is why packing is an option and not the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from tunelab.batching import VariableLengthBatching
from tunelab.errors import ConfigError
from tunelab.tasks.causal_lm.data import IGNORE_INDEX, CausalExample


def pack_examples(lengths: Sequence[int], max_length: int) -> list[list[int]]:
    """Example indices grouped into blocks of at most ``max_length`` tokens.

    First-fit decreasing: longest examples first, each into the first block with room.
    Deterministic, and wastes little: blocks are rarely less than full except the last.
    """
    if any(n > max_length for n in lengths):
        raise ConfigError(f"pack_examples: an example is longer than max_length={max_length}")
    blocks: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for b, free in enumerate(room):
            if lengths[index] <= free:
                blocks[b].append(index)
                room[b] -= lengths[index]
                break
        else:
            blocks.append([index])
            room.append(max_length - lengths[index])
    return [sorted(block) for block in blocks]


@dataclass
class CausalLMBatches(VariableLengthBatching):
    """Labelled token sequences the trainer iterates (the ``TokenBatches`` interface).

    An item is one example, or one block of examples when ``packs`` is set (see the
    module docstring for what packed batches carry and why).
    """

    examples: list[CausalExample]
    pad_token_id: int
    packs: list[list[int]] | None = None

    @classmethod
    def build(
        cls, examples: list[CausalExample], pad_token_id: int, max_length: int, pack: bool = False
    ) -> CausalLMBatches:
        """Batches over ``examples``, packed into ``max_length`` blocks if ``pack``."""
        packs = pack_examples([len(e) for e in examples], max_length) if pack else None
        return cls(examples, pad_token_id, packs)

    def _items(self) -> list[list[int]]:
        return self.packs if self.packs is not None else [[i] for i in range(len(self.examples))]

    def __len__(self) -> int:
        return len(self.packs) if self.packs is not None else len(self.examples)

    @property
    def lengths(self) -> list[int]:
        """Token count of every item (example or block)."""
        return [sum(len(self.examples[i]) for i in item) for item in self._items()]

    @property
    def labels(self) -> list[list[int]]:
        """Every item's labels (-100 where no loss), unpadded."""
        return [self._row(item)[1] for item in self._items()]

    @property
    def supervised_tokens(self) -> int:
        """Tokens the loss is computed on, over the whole source."""
        return sum(sum(label != IGNORE_INDEX for label in row[1:]) for row in self.labels)

    def _row(self, item: list[int]) -> tuple[list[int], list[int], list[int]]:
        """Ids, labels and position ids of one item, documents one after the other."""
        ids, labels, positions = [], [], []
        for i in item:
            example = self.examples[i]
            ids += example.input_ids
            labels += [IGNORE_INDEX, *example.labels[1:]]
            positions += list(range(len(example)))
        return ids, labels, positions

    def collate(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        """Right-padded tensors for the chosen items.

        Unpacked: ``input_ids``, ``attention_mask``, ``labels``. Packed: ``input_ids``,
        ``position_ids``, ``labels`` (no mask, so documents stay apart).
        """
        items = self._items()
        rows = [self._row(items[i]) for i in indices]
        width = max(len(ids) for ids, _, _ in rows)
        batch = {
            "input_ids": _padded([r[0] for r in rows], width, self.pad_token_id),
            "labels": _padded([r[1] for r in rows], width, IGNORE_INDEX),
        }
        if self.packs is None:
            batch["attention_mask"] = _padded([[1] * len(r[0]) for r in rows], width, 0)
        else:
            # Padding continues as one more "document" starting at 0: isolated too.
            batch["position_ids"] = torch.tensor(
                [r[2] + list(range(width - len(r[2]))) for r in rows]
            )
        return batch


def _padded(rows: list[list[int]], width: int, fill: int) -> torch.Tensor:
    return torch.tensor([row + [fill] * (width - len(row)) for row in rows])
