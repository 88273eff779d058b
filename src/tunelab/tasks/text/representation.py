"""Embeddings of a reference set before and after fine-tuning (representation drift).

How far fine-tuning moved the backbone is the measurable side of catastrophic
forgetting: features the pretrained model had, and other tasks relied on, change.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunelab.batching import TokenBatches
from tunelab.config import Config
from tunelab.features import compute_features

_PRETRAINED_CACHE: dict[tuple, np.ndarray] = {}


def pooled_embedding(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The classifier's pooled sentence embedding of a tokenized batch, with gradients
    (what contrastive pairs train)."""
    return model.encode(**batch)


def embed_texts(model, tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    """Pooled backbone embeddings of ``texts`` (CPU, inference mode)."""
    batches = TokenBatches.from_texts(tokenizer, texts, [0] * len(texts), max_length)
    return compute_features(model, batches, 64, torch.device("cpu")).numpy()


def reference_texts(cfg: Config, limit: int) -> list[str]:
    """The first ``limit`` test texts of the run's (seeded, shared) split."""
    from tunelab.tasks.text.data import prepare_text_data

    return prepare_text_data(cfg.data, seed=cfg.data.seed).test["text"].tolist()[:limit]


def pretrained_embeddings(cfg: Config, texts: list[str]) -> np.ndarray:
    """Embeddings from the untouched pretrained backbone (memoised per model + texts)."""
    from tunelab.tasks.text.model import build_text_classifier

    key = (
        cfg.model.name,
        cfg.model.pooling,
        cfg.model.max_length,
        cfg.model.drop_top_layers,
        tuple(texts),
    )
    if key not in _PRETRAINED_CACHE:
        pretrained = cfg.model.model_copy(update={"pretrained": True})
        model, tokenizer, _ = build_text_classifier(pretrained, num_classes=2)
        _PRETRAINED_CACHE[key] = embed_texts(model, tokenizer, texts, cfg.model.max_length)
    return _PRETRAINED_CACHE[key]


def pretrained_and_tuned_embeddings(
    cfg: Config, run_dir: Path, limit: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(before, after)`` embeddings of the reference texts (None: too few texts)."""
    from tunelab.run_dir import model_dir_of, read_model_card
    from tunelab.tasks.text.predictor import load_text_predictor

    texts = reference_texts(cfg, limit)
    if len(texts) < 2:
        return None
    model_dir = model_dir_of(Path(run_dir))
    tuned = load_text_predictor(model_dir, read_model_card(model_dir))
    after = embed_texts(tuned.model, tuned.tokenizer, texts, tuned.max_length)
    return pretrained_embeddings(cfg, texts), after
