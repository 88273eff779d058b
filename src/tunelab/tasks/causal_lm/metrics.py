"""Metrics for generated text, as pure functions, and a timed greedy decoder.

Loss alone does not tell whether a chat model got better at answering: a model can
lower its loss and still never stop talking. So evaluation also generates greedily on
held-out prompts and measures overlap with the reference (chrF, exact match), how often
the model ends its turn by itself (stop rate), and how fast it answers.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tunelab.layers import eval_mode


def perplexity(mean_loss: float) -> float:
    """``exp(mean token loss)``; ``inf`` where that overflows a float (loss > ~709)."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level chrF (sacrebleu's ``CHRF``, 0-100), not an average of sentence scores.

    Corpus level sums character n-gram matches over all pairs before taking the F-score,
    so a few very short answers (where sentence chrF jumps between 0 and 100) do not
    dominate; it is also what sacrebleu reports and papers quote.
    """
    _same_length(predictions, references)
    if not predictions:
        return 0.0
    from sacrebleu.metrics import CHRF

    return float(CHRF().corpus_score(list(predictions), [list(references)]).score)


def normalize_whitespace(text: str) -> str:
    """Runs of whitespace as one space, none at the ends (case is kept)."""
    return " ".join(text.split())


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Share of predictions equal to their reference after whitespace normalisation."""
    _same_length(predictions, references)
    if not predictions:
        return 0.0
    hits = sum(
        normalize_whitespace(p) == normalize_whitespace(r)
        for p, r in zip(predictions, references, strict=True)
    )
    return hits / len(predictions)


def stop_rate(stopped: Sequence[bool]) -> float:
    """Share of generations that ended with EOS / end-of-turn before ``max_new_tokens``."""
    return sum(map(bool, stopped)) / len(stopped) if stopped else 0.0


def mean_generated_length(new_tokens: Sequence[int]) -> float:
    """Mean number of generated tokens per prompt (the stop token included)."""
    return float(np.mean(new_tokens)) if len(new_tokens) else 0.0


def _same_length(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")


@dataclass
class Generations:
    """Greedy outputs and their timing, one entry per prompt."""

    texts: list[str] = field(default_factory=list)
    stopped: list[bool] = field(default_factory=list)
    new_tokens: list[int] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    ms_per_token: list[float] = field(default_factory=list)

    def latency(self) -> dict[str, float]:
        """p50 / p95 of time to first token and of ms per later token."""
        out = {}
        for name, values in (("ttft_ms", self.first_token_ms), ("ms_per_token", self.ms_per_token)):
            finite = [v for v in values if not math.isnan(v)]
            for q in (50, 95):
                out[f"{name}_p{q}"] = float(np.percentile(finite, q)) if finite else math.nan
        return out

    def summary(self) -> dict[str, float]:
        """Stop rate, mean length and latency percentiles, JSON-ready."""
        return {
            "stop_rate": stop_rate(self.stopped),
            "mean_generated_tokens": mean_generated_length(self.new_tokens),
            **self.latency(),
        }


def stop_token_ids(model: nn.Module, tokenizer) -> set[int]:
    """Ids that end a generation: the tokenizer's EOS and the generation config's."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if configured is not None:
        ids |= set(configured) if isinstance(configured, list | tuple) else {configured}
    return ids


def prompt_ids(tokenizer, prompt: str, chat: bool = True) -> list[int]:
    """Token ids the model sees for ``prompt``: a user turn plus the assistant header
    where the tokenizer has a chat template (as in training), else the raw text."""
    from tunelab.tasks.causal_lm.data import bos_prefix, has_chat_template

    if chat and has_chat_template(tokenizer):
        text = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return bos_prefix(tokenizer) + tokenizer(prompt, add_special_tokens=False)["input_ids"]


def _cache_argument(model: nn.Module) -> str:
    """``cache`` (transformers >= 5.2x) or ``past_key_values`` (older; deprecated since)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.inference_mode()
def _greedy_one(
    model: nn.Module, ids: list[int], max_new_tokens: int, stop_ids: set[int]
) -> tuple[list[int], float, float]:
    """Generated ids, ms to the first token, ms per later token (KV cache, batch of 1)."""
    device = next(model.parameters()).device
    started = time.perf_counter()
    out = model(input_ids=torch.tensor([ids], device=device), use_cache=True)
    token = int(out.logits[0, -1].argmax())
    first_ms = (time.perf_counter() - started) * 1000
    generated = [token]
    cache_arg = _cache_argument(model)
    while len(generated) < max_new_tokens and token not in stop_ids:
        cache = out.get("cache") if out.get("cache") is not None else out.get("past_key_values")
        out = model(
            input_ids=torch.tensor([[token]], device=device), use_cache=True, **{cache_arg: cache}
        )
        token = int(out.logits[0, -1].argmax())
        generated.append(token)
    total_ms = (time.perf_counter() - started) * 1000
    later = len(generated) - 1
    return generated, first_ms, (total_ms - first_ms) / later if later else math.nan


def greedy_generate(
    model: nn.Module, tokenizer, prompts: Sequence[str], max_new_tokens: int, chat: bool = True
) -> Generations:
    """Greedy answers to ``prompts``, one at a time so each is timed as a user sees it.

    A generation "stopped" if its last token is EOS / end-of-turn, i.e. the model ended
    its answer itself before ``max_new_tokens``. Texts are decoded without special
    tokens. Train/eval modes are restored afterwards.
    """
    ids = [prompt_ids(tokenizer, prompt, chat) for prompt in prompts]
    return greedy_generate_ids(model, tokenizer, ids, max_new_tokens)


def greedy_generate_ids(
    model: nn.Module, tokenizer, prompts: Sequence[list[int]], max_new_tokens: int
) -> Generations:
    """:func:`greedy_generate` from prompts already rendered to token ids (e.g. a whole
    conversation up to the assistant's turn)."""
    stop_ids = stop_token_ids(model, tokenizer)
    result = Generations()
    with eval_mode(model):
        for ids in prompts:
            generated, first_ms, per_token_ms = _greedy_one(model, ids, max_new_tokens, stop_ids)
            result.texts.append(tokenizer.decode(generated, skip_special_tokens=True).strip())
            result.stopped.append(generated[-1] in stop_ids)
            result.new_tokens.append(len(generated))
            result.first_token_ms.append(first_ms)
            result.ms_per_token.append(per_token_ms)
    return result
