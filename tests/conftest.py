"""Shared fixtures: a tiny random-init BERT saved as a real HF directory, and small data
(keyword texts; grayscale "scans" in class folders for the image tests).

The tiny model goes through exactly the loading path a user's checkpoint would
(``AutoModel.from_pretrained`` on a local directory), in milliseconds.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tunelab.tasks.image.config import ImageDataConfig
from tunelab.tasks.image.transforms import ImagePreprocessing

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = {
    "food": ["pizza", "pasta", "bread", "cheese", "apple", "soup", "salad", "rice"],
    "sport": ["football", "tennis", "goal", "match", "team", "coach", "score", "race"],
    "tech": ["laptop", "printer", "wifi", "password", "screen", "router", "driver", "cable"],
}
FILLER = ["i", "like", "the", "a", "my", "is", "very", "good", "bad", "today", "with", "and"]


@pytest.fixture(autouse=True, scope="session")
def _quiet_transformers():
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()


def _vocab() -> list[str]:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = sorted({w for ws in WORDS.values() for w in ws} | set(FILLER))
    return specials + words + list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'")


def save_tiny_bert(
    path: Path, vocab: list[str], fast: bool = False, positions: int = 64, dropout: float = 0.1
) -> Path:
    """A 2-layer, 32-wide random BERT with a word-level ``vocab`` (seed 0), saved with
    save_pretrained: every text-encoder test's model. ``fast``: a fast tokenizer (the
    character offsets QA needs); ``dropout=0``: runs that must agree across processes."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer, BertTokenizerFast

    tokenizer_class = BertTokenizerFast if fast else BertTokenizer
    tokenizer = tokenizer_class(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=positions,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    BertModel(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The tiny BERT with the vocabulary of :func:`make_texts`."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), _vocab())


def make_texts(n_per_class: int, seed: int = 0) -> pd.DataFrame:
    """Keyword-separable texts: a class's words plus filler, so a tiny model can learn."""
    rng = random.Random(seed)
    rows = []
    for label, words in WORDS.items():
        for _ in range(n_per_class):
            tokens = rng.sample(words, 2) + rng.sample(FILLER, rng.randint(1, 5))
            rng.shuffle(tokens)
            rows.append({"text": " ".join(tokens), "label": label})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.fixture
def tiny_csv(tmp_path) -> Path:
    """A 3-class CSV with 40 texts per class."""
    path = tmp_path / "train.csv"
    make_texts(40).to_csv(path, index=False)
    return path


@pytest.fixture
def tiny_config(tiny_model_dir, tiny_csv) -> dict:
    """A complete, fast config dict on the tiny model and tiny CSV."""
    return {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(tiny_csv), "val_fraction": 0.2, "test_fraction": 0.2},
        "strategy": {"name": "top_k", "k": 1},
        "train": {
            "epochs": 2,
            "batch_size": 8,
            "lr": 1e-3,
            "head_lr": 1e-2,
            "seed": 0,
            "device": "cpu",
        },
    }


TINY_CNN = "test_efficientnet"  # timm's 0.1M-parameter EfficientNet for tests


def _scan(kind: str, rng: np.random.Generator, size: int = 40) -> np.ndarray:
    """A grayscale "scan": a bright disc ("lesion") or a ring ("normal"), plus noise."""
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(14, size - 14, 2)
    r = np.hypot(yy - cy, xx - cx)
    shape = r < 8 if kind == "lesion" else (r > 6) & (r < 9)
    return np.clip(40 + 170 * shape + rng.normal(0, 12, (size, size)), 0, 255).astype(np.uint8)


def write_scans(root, per_class: int = 12, seed: int = 0, sixteen_bit: int = 2):
    """``root/<class>/*.png`` grayscale images; a few stored as 16-bit PNGs."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for kind in ("lesion", "normal"):
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = _scan(kind, rng)
            if i < sixteen_bit:
                Image.fromarray(pixels.astype(np.uint16) * 257).save(folder / f"{i:03d}.png")
            else:
                Image.fromarray(pixels, mode="L").save(folder / f"{i:03d}.png")
    return root


@dataclass
class TinySetup:
    """A tiny text classifier with a strategy applied, and keyword texts to train it on."""

    model: Any
    strategy: Any
    groups: list
    plans: list
    data: Any  # TokenBatches
    labels: list[str]


def tiny_setup(model_dir: Path, strategy_cfg, n_per_class: int = 8) -> TinySetup:
    """Build the tiny classifier (seeded), apply ``strategy_cfg``, tokenize the texts."""
    import torch

    from tunelab.batching import TokenBatches
    from tunelab.strategies import apply_strategy
    from tunelab.tasks.text.config import TextModelConfig
    from tunelab.tasks.text.model import build_text_classifier

    torch.manual_seed(0)
    frame = make_texts(n_per_class)
    labels = sorted(frame["label"].unique())
    model, tokenizer, _ = build_text_classifier(TextModelConfig(name=str(model_dir)), len(labels))
    strategy, groups, plans = apply_strategy(model, strategy_cfg)
    ids = [labels.index(v) for v in frame["label"]]
    data = TokenBatches.from_texts(tokenizer, frame["text"], ids, 32)
    return TinySetup(model, strategy, groups, plans, data, labels)


def classification_trainer(model, groups, plans, cfg, data, labels, callbacks=()):
    """The trainer on ``data`` (training and validation alike) with the classification
    objective over ``labels``: what tests that drive steps by hand need."""
    from tunelab.tasks.classification import ClassificationObjective
    from tunelab.trainer import Trainer

    objective = ClassificationObjective(list(labels))
    return Trainer(model, groups, plans, cfg, data, data, objective, callbacks=list(callbacks))


def step_config(**overrides):
    """A ``TrainConfig`` for tests that count or compare optimizer steps.

    A high constant LR (no warmup) so one step visibly moves every trained parameter,
    CPU, and no early stopping, so the number of steps is exactly what the test asks.
    """
    from tunelab.config import TrainConfig

    settings = {
        "batch_size": 8,
        "lr": 1e-2,
        "head_lr": 1e-2,
        "warmup_ratio": 0.0,
        "device": "cpu",
        "early_stopping": {"enabled": False},
    }
    return TrainConfig(**{**settings, **overrides})


@pytest.fixture
def image_config() -> dict:
    """Scaled-up 8x8 digits on the tiny CNN from scratch: a complete run in seconds."""
    return {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {
            "train": "builtin:digits",
            "max_per_class": 15,
            "val_fraction": 0.2,
            "test_fraction": 0.2,
            "augment": {"hflip": 0.0, "rotation": 10},
        },
        "strategy": {"name": "full"},
        "train": {
            "epochs": 2,
            "batch_size": 16,
            "lr": 3e-3,
            "head_lr": 3e-3,
            "seed": 0,
            "device": "cpu",
        },
    }


def train_tiny_text_run(model_dir: Path, root: Path, strategy: str = "top_k", **train) -> Path:
    """A finished run on the tiny model and 30 keyword texts (a few seconds); its dir."""
    import tunelab

    make_texts(10).to_csv(root / "train.csv", index=False)
    config = {
        "model": {"name": str(model_dir), "max_length": 32},
        "data": {"train": str(root / "train.csv"), "val_fraction": 0.2, "test_fraction": 0.2},
        "strategy": {"name": strategy},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu", **train},
    }
    return tunelab.fine_tune(config, root / "run").run_dir


IMAGE_PRE = ImagePreprocessing(24, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "bilinear")


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str | bytes], str]:
    """Write text (UTF-8, newlines kept as given) or bytes; return the path as a string."""

    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return str(path)

    return write


@pytest.fixture
def write_rows(tmp_path: Path) -> Callable[..., str]:
    """Write ``(text, label)`` rows as a CSV with a ``text,label`` header; return the path."""

    def write(name: str, rows: list[tuple[object, object]], columns=("text", "label")) -> str:
        path = tmp_path / name
        pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
        return str(path)

    return write


def image_cfg(train: str, **kw) -> ImageDataConfig:
    """An image ``data`` section on ``train`` with 20% validation and 20% test."""
    return ImageDataConfig(train=train, val_fraction=0.2, test_fraction=0.2, **kw)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A 2-block Llama (random init) with a word-level ChatML tokenizer, saved as an HF
    directory, as a user's own causal-LM checkpoint would be."""
    from tests.tasks.causal_lm.conftest import WORDS, make_tiny_tokenizer, tiny_decoder

    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = make_tiny_tokenizer()
    model = tiny_decoder("llama", vocab_size=len(tokenizer))
    model.config.architectures = ["LlamaForCausalLM"]
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    assert len(WORDS) > 10
    return path


def make_chats(n: int, seed: int = 0) -> list[dict]:
    """Chat rows in the tiny tokenizer's vocabulary: a question and a fixed answer."""
    rng = random.Random(seed)
    pairs = [("what is the capital of france ?", "paris ."), ("how are you ?", "fine thanks .")]
    rows = []
    for _ in range(n):
        question, answer = rng.choice(pairs)
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ]
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    """Rows as JSON Lines."""
    import json

    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
