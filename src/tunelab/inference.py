"""Load a run's model and predict: the path behind ``tunelab predict`` and ``load()``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from tunelab.acceleration import intra_op_threads
from tunelab.batching import TokenBatches
from tunelab.errors import DataError, RunDirError
from tunelab.fused_encoder import fuse_for_inference
from tunelab.models.head import ClassificationHead
from tunelab.models.text import (
    TextClassifier,
    drop_top_layers,
    hidden_size,
    load_backbone,
    load_tokenizer,
    read_model_card,
)


@dataclass
class Prediction:
    """One text's predicted label and the probability of every label."""

    label: str
    probabilities: dict[str, float]


class Predictor:
    """A trained classifier with its tokenizer and labels, ready for batched inference."""

    task = "text_classification"  # as ImagePredictor.task: callers branch on it

    def __init__(
        self,
        model: TextClassifier,
        tokenizer,
        labels: list[str],
        max_length: int,
        device: str | torch.device = "cpu",
        fused: bool = True,
        threads: int | None = None,
    ) -> None:
        """``fused``: run PyTorch's fused encoder layer where the backbone maps onto it
        exactly (same logits, ~10-20% less latency per text on CPU). ``threads``: intra-op
        threads while predicting (None: torch's setting). 1 keeps single-text latency
        steady on a machine shared with other jobs, where waiting for a descheduled
        second thread stalls every op; on an idle machine it is ~30% slower.
        """
        self.model = model.to(device).eval()
        self.tokenizer, self.labels, self.max_length = tokenizer, labels, max_length
        self.device, self.threads = torch.device(device), threads
        self.fused = fuse_for_inference(self.model) if fused else None

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities, one row per text, in input order.

        Texts are sorted by length into batches so each batch pads little.
        """
        data = TokenBatches.from_texts(self.tokenizer, texts, [0] * len(texts), self.max_length)
        forward = self.fused or self.model
        out = torch.empty(len(texts), len(self.labels))
        with intra_op_threads(self.threads):
            for indices in data.eval_batches(batch_size):
                batch = data.collate(indices)
                batch.pop("labels")
                logits = forward(**{k: v.to(self.device) for k, v in batch.items()})
                out[torch.as_tensor(indices)] = logits.float().softmax(-1).cpu()
        return out

    def predict(self, texts: Sequence[str] | str, batch_size: int = 64) -> list[Prediction]:
        """Predicted label and per-label probabilities for each text."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        probs = self.predict_proba(texts, batch_size)
        return [
            Prediction(
                self.labels[int(row.argmax())],
                {label: float(p) for label, p in zip(self.labels, row, strict=True)},
            )
            for row in probs
        ]


def load(run_dir: str | Path, device: str = "cpu"):
    """Load the model saved by a run (``RUN_DIR`` or ``RUN_DIR/model``).

    Returns the predictor of the run's task: :class:`Predictor` for texts,
    :class:`~tunelab.tasks.image.ImagePredictor` for images.
    """
    from tunelab.tasks import get_task

    model_dir = _model_dir(Path(run_dir))
    card = read_model_card(model_dir)
    return get_task(card.get("task", "text_classification")).load_predictor(model_dir, card, device)


def load_text_predictor(model_dir: Path, card: dict, device: str = "cpu") -> Predictor:
    """The text classifier saved in ``model_dir`` (full weights, or base model + LoRA)."""
    if card["format"] == "lora":
        backbone = load_backbone(Path(card["base_model"]), pretrained=True)
        drop_top_layers(backbone, card.get("drop_top_layers", 0))
        from tunelab.strategies.lora import load_adapter

        backbone = load_adapter(backbone, model_dir / "adapter")
    else:
        backbone = load_backbone(model_dir, pretrained=False)
    head_cfg = card["head"]
    head = ClassificationHead(
        hidden_size(backbone),
        len(card["labels"]),
        head_cfg["hidden_sizes"],
        head_cfg["dropout"],
        head_cfg["activation"],
    )
    model = TextClassifier(backbone, head, card["pooling"])
    weights = load_file(str(model_dir / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=card["format"] == "full")
    if unexpected:
        raise RunDirError(f"{model_dir}: weights do not match the model ({unexpected[:3]})")
    return Predictor(model, load_tokenizer(model_dir), card["labels"], card["max_length"], device)


def _model_dir(path: Path) -> Path:
    for candidate in (path / "model", path):
        if (candidate / "tunelab_model.json").is_file():
            return candidate
    raise RunDirError(
        f"{path}: no trained model found (expected {path}/model/tunelab_model.json); "
        "is this a finished tunelab run directory?"
    )


def read_texts(path: Path, run_dir: str | Path) -> list[str]:
    """Texts to predict from a ``.txt`` file (a text per line) or a table file."""
    path = Path(path)
    if path.suffix == ".txt":
        if not path.is_file():
            raise DataError(f"--input {path}: file not found; pass an existing .txt/.csv/.jsonl")
        return [line for line in path.read_text().splitlines() if line.strip()]
    from tunelab.data import read_table
    from tunelab.evaluation import run_columns

    text_column, _ = run_columns(Path(run_dir), None, None)
    frame = read_table(str(path), where="--input")
    if text_column not in frame.columns:
        raise DataError(f"--input {path}: no column '{text_column}' (the run's text column)")
    return frame[text_column].astype(str).tolist()
