"""Scoring a causal-LM run after training, and on a new source (``tunelab evaluate``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tunelab.config import Config, load_config
from tunelab.tasks.base import BuiltModel
from tunelab.tasks.causal_lm.module import CausalLM
from tunelab.tasks.causal_lm.prompts import PromptCase, prompt_cases
from tunelab.tasks.causal_lm.scoring import (
    baseline_scores,
    forgetting,
    generation_metrics,
    memo_key,
    reference_examples,
    token_metrics,
)

SAMPLES_KEPT = 8
BASE_KEYS = ("perplexity", "chrf", "exact_match", "stop_rate")


def score_run(cfg: Config, model: CausalLM, built: BuiltModel, splits, device: Any) -> dict:
    """Generation scores, the base model's scores and forgetting, for ``metrics.json``."""
    tokenizer, length = built.processor, cfg.model.max_length
    cases = prompt_cases(tokenizer, splits.test, splits.fmt, cfg.train.generate_samples)
    scores, answers = generation_metrics(model, tokenizer, cases, cfg.train.max_new_tokens)
    reference = reference_examples(cfg.data.reference_text, tokenizer, length)
    pad = tokenizer.pad_token_id
    after = (
        token_metrics(model, reference, pad, length, device)["perplexity"] if reference else None
    )
    out: dict[str, Any] = {"test": dict(scores), "flags": []}
    base = _base(cfg, built, splits, cases, reference, device) if built.source else None
    if base is not None:
        out["baseline"] = {"validation": base["validation"], "test": base["test"]}
        out["test"].update({f"base_{k}": base["test"].get(k, math.nan) for k in BASE_KEYS})
        if after is not None:
            out["forgetting"] = forgetting(base["reference_perplexity"], after, cfg.strategy.name)
            out["flags"] += [out["forgetting"]["flag"]] if out["forgetting"]["flag"] else []
    out["samples"] = _samples(cases, answers, base["answers"] if base else [])
    return out


def _base(cfg: Config, built: BuiltModel, splits, cases, reference, device) -> dict:
    """The untouched pretrained model on the same tokens and prompts (memoised)."""
    key = memo_key(
        str(built.source),
        cfg.model.max_length,
        cfg.train.max_new_tokens,
        [c.ids for c in cases],
        [[e.input_ids, e.labels] for e in splits.examples["validation"]],
        [[e.input_ids, e.labels] for e in splits.examples["test"]],
        len(reference),
    )
    return baseline_scores(key, lambda: _score_base(cfg, built, splits, cases, reference, device))


def _score_base(cfg: Config, built: BuiltModel, splits, cases, reference, device) -> dict:
    from tunelab.tasks.causal_lm.model import load_causal_lm

    backbone, tokenizer = load_causal_lm(built.source)
    base = CausalLM(backbone).to(device)
    pad, length = tokenizer.pad_token_id, cfg.model.max_length
    validation = token_metrics(base, splits.examples["validation"], pad, length, device)
    test = token_metrics(base, splits.examples["test"], pad, length, device)
    scores, answers = generation_metrics(base, tokenizer, cases, cfg.train.max_new_tokens)
    ref = token_metrics(base, reference, pad, length, device)["perplexity"] if reference else None
    return {
        "validation": validation,
        "test": {**test, **scores},
        "answers": answers,
        "reference_perplexity": ref,
    }


def _samples(cases: list[PromptCase], tuned: list[str], base: list[str]) -> list[dict]:
    """Prompt, reference, base and tuned answers side by side, for the report."""
    return [
        {
            "prompt": case.prompt,
            "reference": case.reference,
            "tuned": tuned[i],
            "base": base[i] if i < len(base) else None,
        }
        for i, case in enumerate(cases[:SAMPLES_KEPT])
    ]


def evaluate_source(predictor, run_dir: Path, source: str) -> dict:
    """Loss, perplexity and generation scores of a run's model on another source of
    rows in the run's format (columns as in the run's config)."""
    from tunelab.tasks.causal_lm.data import encode_rows
    from tunelab.tasks.causal_lm.sources import read_rows
    from tunelab.tasks.causal_lm.splits import row_format

    cfg = load_config(run_dir / "config.yaml")
    rows = read_rows(source if source.startswith("builtin:") else Path(source))
    fmt = row_format(cfg.data, rows[0])
    tokenizer, length = predictor.tokenizer, predictor.max_length
    examples, summary = encode_rows(tokenizer, rows, fmt, length)
    metrics = token_metrics(predictor.model, examples, tokenizer.pad_token_id, length, "cpu")
    cases = prompt_cases(tokenizer, rows, fmt, cfg.train.generate_samples)
    scores, _ = generation_metrics(predictor.model, tokenizer, cases, predictor.max_new_tokens)
    return {**metrics, **scores, "n": summary.kept}
