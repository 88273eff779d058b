"""The two sides of the training rows: the tunelab trainer and ``transformers.Trainer``."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import torch
from common import BATCH_SIZE, LR, MAX_LENGTH, BenchData, model_path, timed

from tunelab.batching import TokenBatches
from tunelab.config import TrainConfig
from tunelab.prefix_cache import FrozenPrefixCache
from tunelab.strategies import apply_strategy, strategy_config
from tunelab.tasks.classification import ClassificationObjective
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.model import build_text_classifier
from tunelab.trainer import Trainer


@dataclass
class TunelabRun:
    """A finished tunelab training run and what the rows read from it."""

    seconds: float  # wall time of ``fit()`` (loop, per-epoch validation, best-weights copy)
    trainer: Trainer
    model: torch.nn.Module
    tokenizer: object
    train: TokenBatches
    cache: FrozenPrefixCache | None

    @property
    def epoch_seconds(self) -> float:
        """The first epoch's training loop alone (no validation, no cache build)."""
        return self.trainer.state.epoch_seconds[0]


def encode(tokenizer, split: tuple[list[str], list[int]]) -> TokenBatches:
    """Tokenize once, unpadded (both sides tokenize outside the timed region)."""
    return TokenBatches.from_texts(tokenizer, split[0], split[1], MAX_LENGTH)


def train_tunelab(
    data: BenchData,
    strategy: str,
    steps: int,
    k: int = 2,
    prefix_cache: bool = False,
    seed: int = 0,
    lr: float = LR,
) -> TunelabRun:
    """Fine-tune with the tunelab trainer (``strategy``), timing ``fit()`` only."""
    from accelerate.utils import set_seed

    set_seed(seed)
    model, tokenizer, _ = build_text_classifier(
        TextModelConfig(name=str(model_path()), max_length=MAX_LENGTH), len(data.labels)
    )
    plan_maker, groups, plans = apply_strategy(
        model, strategy_config(strategy, **({"k": k} if strategy == "top_k" else {}))
    )
    train, val = encode(tokenizer, data.train), encode(tokenizer, data.val)
    cache = FrozenPrefixCache(model, groups, train, val) if prefix_cache else None
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=BATCH_SIZE,
        lr=lr,
        seed=seed,
        device="cpu",
        early_stopping={"enabled": False},
    )
    trainer = Trainer(
        model,
        groups,
        plans,
        cfg,
        train,
        val,
        ClassificationObjective(data.labels),
        callbacks=[*plan_maker.callbacks(groups, plans), *([cache] if cache else [])],
    )
    seconds, _ = timed(trainer.fit)
    return TunelabRun(seconds, trainer, model, tokenizer, train, cache)


def train_hf(data: BenchData, steps: int, seed: int = 0, batch_size: int = BATCH_SIZE):
    """``transformers.Trainer`` with HF defaults + dynamic padding; timing ``train()`` only.

    ``steps=-1`` is HF's own default: ``num_train_epochs`` (3) epochs instead of a step
    budget (row 8c runs HF at its defaults: 3 epochs of batch 8).
    Returns ``(seconds, model, tokenizer)``.
    """
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        TrainingArguments,
        set_seed,
    )
    from transformers import Trainer as HFTrainer

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path()))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_path()), num_labels=len(data.labels)
    )
    texts, labels = data.train
    enc = tokenizer(texts, truncation=True, max_length=MAX_LENGTH)
    rows = [{**{key: enc[key][i] for key in enc}, "labels": labels[i]} for i in range(len(texts))]
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(prefix="hf-bench-"),
        per_device_train_batch_size=batch_size,
        max_steps=steps,
        learning_rate=LR,
        seed=seed,
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = HFTrainer(
        model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer)
    )
    seconds, _ = timed(trainer.train)
    return seconds, model, tokenizer


@torch.inference_mode()
def predict_tunelab(model, tokenizer, labels: list[str], texts: list[str]) -> list[int]:
    """Predicted class ids through tunelab's batched, length-sorted ``Predictor``."""
    from tunelab.tasks.text.predictor import Predictor

    probs = Predictor(model, tokenizer, labels, MAX_LENGTH).predict_proba(texts)
    model.train()
    return probs.argmax(-1).tolist()


@torch.inference_mode()
def predict_hf(model, tokenizer, texts: list[str], batch_size: int = 64) -> list[int]:
    """Predicted class ids of an HF sequence classifier (plain batched loop)."""
    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(
            texts[start : start + batch_size],
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
        )
        out += model(**enc).logits.argmax(-1).tolist()
    return out
