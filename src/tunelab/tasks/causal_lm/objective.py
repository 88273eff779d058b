"""Next-token cross-entropy on the supervised tokens, and perplexity.

Labels are the input ids with -100 wherever the model is not asked to write (user turns,
prompts, padding); the loss is the mean over supervised tokens, so long and short
answers count per token, as transformers' ``ForCausalLMLoss`` does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tunelab.objective import Batches, EvalResult, MetricSpec, Objective

IGNORE_INDEX = -100


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy of each position's prediction of the next token, and how
    many tokens were scored."""
    shifted = logits[:, :-1].reshape(-1, logits.size(-1)).float()
    targets = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(shifted, targets, ignore_index=IGNORE_INDEX, reduction="sum")
    return total, int((targets != IGNORE_INDEX).sum())


class CausalLMObjective(Objective):
    """Mean next-token loss; perplexity = exp(loss); generation scores at the end."""

    metrics = (
        MetricSpec("loss", "loss", "min", "loss"),
        MetricSpec("perplexity", "perplexity", "min", "ppl"),
    )
    final_metrics = (
        MetricSpec("chrf", "chrF", "max", "chrf"),
        MetricSpec("exact_match", "exact match", "max", "em"),
        MetricSpec("stop_rate", "stop rate", "max", "stop"),
        MetricSpec("ms_per_token_p50", "ms/token p50", "min", "ms/tok"),
    )
    monitor = "loss"
    headline = ("perplexity", "chrf", "stop_rate")

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        total, count = token_losses(outputs, targets)
        return total / max(count, 1)

    def batch_score(self, outputs: torch.Tensor, targets: torch.Tensor) -> float:
        return 0.0

    def evaluate(self, batches: Batches, num_examples: int) -> EvalResult:
        total, count = 0.0, 0
        for _, outputs, targets in batches:
            batch_total, batch_count = token_losses(outputs, targets)
            total, count = total + float(batch_total), count + batch_count
        loss = total / max(count, 1)
        return EvalResult({"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": count})
