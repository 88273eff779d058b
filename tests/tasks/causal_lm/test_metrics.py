"""Pure metric functions, and greedy generation checked against transformers' own."""

from __future__ import annotations

import math

import pytest
import torch

from tests.tasks.causal_lm.conftest import tiny_decoder
from tunelab.tasks.causal_lm.metrics import (
    Generations,
    chrf,
    exact_match,
    greedy_generate,
    mean_generated_length,
    perplexity,
    prompt_ids,
    stop_rate,
)


def test_perplexity() -> None:
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(10)) == pytest.approx(10.0)
    assert perplexity(1000.0) == math.inf


def test_chrf_is_corpus_level() -> None:
    from sacrebleu.metrics import CHRF

    predictions, references = ["Paris.", "the cat sat on the mat"], ["Paris", "a cat sat on a mat"]
    assert chrf(references, references) == pytest.approx(100.0)
    assert chrf(["xyz"], ["abc"]) == 0.0
    corpus = CHRF().corpus_score(predictions, [references]).score
    sentences = [
        CHRF().sentence_score(p, [r]).score for p, r in zip(predictions, references, strict=True)
    ]
    assert chrf(predictions, references) == pytest.approx(corpus)
    assert corpus != pytest.approx(sum(sentences) / 2)
    assert chrf([], []) == 0.0
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        chrf(["a", "b"], ["a"])


def test_exact_match_normalises_whitespace_only() -> None:
    assert exact_match([" Paris\n", "the  cat"], ["Paris", "the cat"]) == 1.0
    assert exact_match(["paris", "Paris"], ["Paris", "Paris"]) == 0.5  # case kept
    assert exact_match([], []) == 0.0


def test_stop_rate_and_mean_length() -> None:
    assert stop_rate([True, False, True, True]) == 0.75
    assert stop_rate([]) == 0.0
    assert mean_generated_length([3, 5, 10]) == 6.0


def test_latency_percentiles() -> None:
    result = Generations(
        texts=["a", "b"],
        stopped=[True, False],
        new_tokens=[1, 4],
        first_token_ms=[10.0, 20.0],
        ms_per_token=[math.nan, 5.0],  # one token: no later tokens to time
    )
    summary = result.summary()
    assert summary["stop_rate"] == 0.5 and summary["mean_generated_tokens"] == 2.5
    assert summary["ttft_ms_p50"] == 15.0 and summary["ms_per_token_p95"] == 5.0


def test_prompt_ids_use_the_chat_template(tiny_tokenizer) -> None:
    ids = prompt_ids(tiny_tokenizer, "hi")
    tokens = tiny_tokenizer.convert_ids_to_tokens(ids)
    assert tokens == [
        "<s>",
        "<|im_start|>",
        "user",
        "hi",
        "<|im_end|>",
        "<|im_start|>",
        "assistant",
    ]
    assert tiny_tokenizer.convert_ids_to_tokens(prompt_ids(tiny_tokenizer, "hi", chat=False)) == [
        "<s>",
        "hi",
    ]


def test_greedy_generate_matches_transformers_generate(tiny_tokenizer) -> None:
    model = tiny_decoder("llama", vocab_size=len(tiny_tokenizer), seed=1)
    model.generation_config.eos_token_id = None  # run the full length
    prompts = ["hi", "what is the capital of france ?"]
    result = greedy_generate(model, tiny_tokenizer, prompts, max_new_tokens=6)
    for prompt, text in zip(prompts, result.texts, strict=True):
        ids = torch.tensor([prompt_ids(tiny_tokenizer, prompt)])
        expected = model.generate(ids, max_new_tokens=6, do_sample=False, eos_token_id=None)
        new = expected[0, ids.shape[1] :].tolist()
        assert text == tiny_tokenizer.decode(new, skip_special_tokens=True).strip()
    assert result.new_tokens == [6, 6] and result.stopped == [False, False]
    assert all(t > 0 for t in result.first_token_ms + result.ms_per_token)


def test_a_generation_that_emits_eos_first_stops(tiny_tokenizer) -> None:
    model = tiny_decoder("llama", vocab_size=len(tiny_tokenizer), tied=False)
    with torch.no_grad():  # every logit 0 but EOS: EOS is the greedy choice everywhere
        model.lm_head.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        model.lm_head.weight[tiny_tokenizer.eos_token_id] = 1.0
    model.model.norm.register_forward_hook(lambda m, i, out: torch.ones_like(out))
    model.train()
    result = greedy_generate(model, tiny_tokenizer, ["hi"], max_new_tokens=5)
    assert result.stopped == [True] and result.new_tokens == [1] and result.texts == [""]
    assert math.isnan(result.ms_per_token[0])
    assert model.training  # modes restored
