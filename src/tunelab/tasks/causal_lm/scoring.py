"""What a causal-LM run measures once training is done.

* generation on held-out prompts (greedy): chrF, exact match, stop rate, mean length,
  time to first token and ms per generated token;
* the untouched base model on the same validation/test tokens and prompts (the
  zero-shot baseline, measured in the same run: ``base_*``);
* forgetting: perplexity on general reference text (not the fine-tuning data) before
  and after fine-tuning, flagged when it rose by more than ``FORGETTING_RISE``.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from tunelab.diagnostics import Flag
from tunelab.errors import DataError
from tunelab.layers import eval_mode
from tunelab.tasks.causal_lm.batches import CausalLMBatches
from tunelab.tasks.causal_lm.data import CausalExample, text_example, truncate
from tunelab.tasks.causal_lm.metrics import chrf, exact_match, greedy_generate_ids
from tunelab.tasks.causal_lm.module import CausalLM
from tunelab.tasks.causal_lm.objective import CausalLMObjective
from tunelab.tasks.causal_lm.prompts import PromptCase

FORGETTING_RISE = 0.10  # reference perplexity 10% above the base model's
REFERENCE_DOCUMENTS = 12
_BASELINE_MEMO: dict[str, dict] = {}


@torch.inference_mode()
def token_metrics(
    model: CausalLM, examples: list[CausalExample], pad_id: int, max_length: int, device: Any
) -> dict[str, float]:
    """Loss and perplexity of ``model`` on ``examples`` (no packing: each on its own)."""
    batches = CausalLMBatches.build(examples, pad_id, max_length)

    def outputs():
        for indices in batches.eval_batches(8):
            batch = {k: v.to(device) for k, v in batches.collate(indices).items()}
            targets = batch.pop("labels")
            yield indices, model(**batch).float(), targets

    with eval_mode(model):
        return CausalLMObjective().evaluate(outputs(), len(batches)).metrics


def generation_metrics(
    model: CausalLM, tokenizer, cases: list[PromptCase], max_new_tokens: int
) -> tuple[dict[str, float], list[str]]:
    """Scores of greedy answers to ``cases``, and the answers themselves."""
    if not cases:
        return {}, []
    generations = greedy_generate_ids(
        model.backbone, tokenizer, [c.ids for c in cases], max_new_tokens
    )
    references = [c.reference for c in cases]
    scores = {
        "chrf": chrf(generations.texts, references),
        "exact_match": exact_match(generations.texts, references),
        **generations.summary(),
    }
    return scores, generations.texts


def reference_examples(source: str | None, tokenizer, max_length: int) -> list[CausalExample]:
    """General English text, cut into examples of at most ``max_length`` tokens."""
    if source is None:
        return []
    documents = _reference_documents(source)
    return [truncate(text_example(tokenizer, doc), max_length) for doc in documents]


def _reference_documents(source: str) -> list[str]:
    if source == "builtin:sklearn-descr":
        folder = resources.files("sklearn.datasets") / "descr"
        files = sorted(f for f in folder.iterdir() if f.name.endswith(".rst"))
        return [f.read_text(encoding="utf-8") for f in files[:REFERENCE_DOCUMENTS]]
    path = Path(source)
    if not path.is_file():
        raise DataError(
            f"data.reference_text {source}: not found; pass a .txt file, "
            "builtin:sklearn-descr, or null to skip the forgetting check"
        )
    paragraphs = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
    return [p for p in paragraphs if p][:64]


def memo_key(*parts: Any) -> str:
    """A key for the base model's scores: the same model, data and settings score the
    same, so a comparison measures the base model once."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def baseline_scores(key: str, compute) -> dict:
    """``compute()`` once per ``key`` in this process."""
    if key not in _BASELINE_MEMO:
        _BASELINE_MEMO[key] = compute()
    return _BASELINE_MEMO[key]


def forgetting(before: float, after: float, strategy: str) -> dict[str, Any]:
    """Reference perplexity before vs after, with a flag when it rose too much."""
    rise = after / before - 1.0 if before > 0 else 0.0
    flag = None
    if rise > FORGETTING_RISE:
        flag = Flag(
            "catastrophic_forgetting",
            strategy,
            f"perplexity on general reference text rose {100 * rise:.0f}% "
            f"({before:.1f} -> {after:.1f}, > {100 * FORGETTING_RISE:.0f}%)",
            {"reference_perplexity_before": before, "reference_perplexity_after": after},
        )
    return {
        "reference_perplexity_before": before,
        "reference_perplexity_after": after,
        "rise": rise,
        "flag": flag.to_dict() if flag else None,
    }
