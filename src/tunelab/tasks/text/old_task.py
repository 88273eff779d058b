"""What a sentence encoder could do before fine-tuning, scored before and after.

A sentence encoder such as all-MiniLM was trained to place a question near its answer.
Catastrophic forgetting is losing that: the pooled embeddings of the tuned backbone no
longer retrieve the right answer. The reference set is the first turn -> reply pairs
of the chatterbot corpus (shipped in a package); the score is top-1 retrieval accuracy
of each question's reply among all replies.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from tunelab.config import Config
from tunelab.errors import DataError

TASK_NAME = "answer retrieval top-1"
_BEFORE: dict[tuple, float] = {}


def reference_pairs(limit: int, seed: int = 0) -> list[tuple[str, str]]:
    """Up to ``limit`` (question, reply) pairs with distinct questions and replies
    (seeded sample; empty when the corpus package is missing)."""
    from tunelab.data.builtin import chatterbot_files

    try:
        files = chatterbot_files("old-task reference pairs")
    except DataError:
        return []
    pairs, seen = [], set()
    for _, content in files:
        for turns in content.get("conversations") or []:
            turns = [str(t).strip() for t in turns if isinstance(t, str) and str(t).strip()]
            if len(turns) >= 2 and turns[0] not in seen and turns[1] not in seen:
                seen.update(turns[:2])
                pairs.append((turns[0], turns[1]))
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def retrieval_accuracy(questions: np.ndarray, replies: np.ndarray) -> float:
    """Share of questions whose nearest reply (cosine) is their own."""
    q = questions / np.maximum(np.linalg.norm(questions, axis=1, keepdims=True), 1e-12)
    r = replies / np.maximum(np.linalg.norm(replies, axis=1, keepdims=True), 1e-12)
    return float(np.mean((q @ r.T).argmax(1) == np.arange(len(q))))


def _score(model, tokenizer, pairs: list[tuple[str, str]], max_length: int) -> float:
    from tunelab.tasks.text.representation import embed_texts

    questions = embed_texts(model, tokenizer, [q for q, _ in pairs], max_length)
    replies = embed_texts(model, tokenizer, [r for _, r in pairs], max_length)
    return retrieval_accuracy(questions, replies)


def old_task_score(cfg: Config, run_dir: Path, limit: int) -> dict | None:
    """``{"name", "before", "after", "n"}`` for the run's tuned encoder (None: no pairs)."""
    from tunelab.run_dir import model_dir_of, read_model_card
    from tunelab.tasks.text.model import build_text_classifier
    from tunelab.tasks.text.predictor import load_text_predictor

    pairs = reference_pairs(limit)
    if len(pairs) < 10:
        return None
    key = (cfg.model.name, cfg.model.pooling, cfg.model.max_length, len(pairs))
    if key not in _BEFORE:
        pretrained = cfg.model.model_copy(update={"pretrained": True})
        model, tokenizer, _ = build_text_classifier(pretrained, num_classes=2)
        _BEFORE[key] = _score(model, tokenizer, pairs, cfg.model.max_length)
    model_dir = model_dir_of(Path(run_dir))
    tuned = load_text_predictor(model_dir, read_model_card(model_dir))
    after = _score(tuned.model, tuned.tokenizer, pairs, tuned.max_length)
    return {"name": TASK_NAME, "before": _BEFORE[key], "after": after, "n": len(pairs)}
