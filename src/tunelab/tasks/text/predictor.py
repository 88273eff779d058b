"""Inference on raw texts: the text classifier with its tokenizer and labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

from tunelab.acceleration import intra_op_threads
from tunelab.batching import TokenBatches
from tunelab.errors import DataError, RunDirError
from tunelab.models.head import ClassificationHead
from tunelab.tasks.classification import HeadConfig, Prediction, predictions
from tunelab.tasks.text.fused_encoder import fuse_for_inference
from tunelab.tasks.text.model import (
    TextClassifier,
    drop_top_layers,
    hidden_size,
    load_backbone,
    load_tokenizer,
)

# Texts are cut to ``max_length * CHARS_PER_TOKEN`` characters before tokenizing: the
# tokenizer would truncate to ``max_length`` tokens anyway, but only after splitting the
# whole string (a 10 MB text took 22 s and 1.4 GB). Real text has far more than one token
# per 20 characters (WordPiece / BPE: 3-6), so the cut changes no prediction; only a text
# made of words longer than 20 characters (a URL dump) loses tokens it would have kept.
CHARS_PER_TOKEN = 20


def cut_for_tokenizer(texts: Sequence[str], max_length: int) -> list[str]:
    """Each text cut to at most ``max_length * CHARS_PER_TOKEN`` characters."""
    limit = max_length * CHARS_PER_TOKEN
    return [text[:limit] for text in texts]


class Predictor:
    """A trained classifier with its tokenizer and labels, ready for batched inference."""

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

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities, one row per text, in input order."""
        return self.outputs(texts, batch_size).softmax(-1)

    @torch.inference_mode()
    def outputs(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """The model's raw outputs (logits), one row per text, in input order.

        Texts are sorted by length into batches so each batch pads little; each is cut
        to ``max_length * CHARS_PER_TOKEN`` characters first (see :data:`CHARS_PER_TOKEN`).
        """
        texts = cut_for_tokenizer(texts, self.max_length)
        data = TokenBatches.from_texts(self.tokenizer, texts, [0] * len(texts), self.max_length)
        forward = self.fused or self.model
        out = torch.empty(len(texts), len(self.labels))
        with intra_op_threads(self.threads):
            for indices in data.eval_batches(batch_size):
                batch = data.collate(indices)
                batch.pop("labels")
                logits = forward(**{k: v.to(self.device) for k, v in batch.items()})
                out[torch.as_tensor(indices)] = logits.float().cpu()
        return out

    def predict(self, texts: Sequence[str] | str, batch_size: int = 64) -> list[Prediction]:
        """Predicted label and per-label probabilities for each text."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        return predictions(self.labels, self.predict_proba(texts, batch_size))

    def predict_records(self, records: Sequence[dict], batch_size: int = 64) -> list[dict]:
        """Each input record (:func:`read_texts`) with its prediction added, in order.

        A record that already holds an ``error`` (an empty or undecodable line) is
        returned as it is, so output N is always input N.
        """
        usable = [record["text"] for record in records if "error" not in record]
        found = iter(self.predict(usable, batch_size))
        return [
            dict(record) if "error" in record else {**record, **next(found).to_dict()}
            for record in records
        ]


def load_text_predictor(model_dir: Path, card: dict, device: str = "cpu") -> Predictor:
    """The text classifier saved in ``model_dir`` (full weights, or base model + LoRA)."""
    if card["format"] == "lora":
        backbone = load_backbone(Path(card["base_model"]), pretrained=True)
        drop_top_layers(backbone, card.get("drop_top_layers", 0))
        from tunelab.strategies.lora import load_adapter

        backbone = load_adapter(backbone, model_dir / "adapter")
    else:
        backbone = load_backbone(model_dir, pretrained=False)
    head = ClassificationHead.from_config(
        hidden_size(backbone), len(card["labels"]), HeadConfig(**card["head"])
    )
    model = TextClassifier(backbone, head, card["pooling"])
    weights = load_file(str(model_dir / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=card["format"] == "full")
    if unexpected:
        raise RunDirError(f"{model_dir}: weights do not match the model ({unexpected[:3]})")
    return Predictor(model, load_tokenizer(model_dir), card["labels"], card["max_length"], device)


def text_records(texts: Sequence[str]) -> list[dict]:
    """``{"text": ...}`` per command-line text; a blank one gets an ``error`` naming it."""
    return [
        {"text": text, "error": f"argument {n}: empty text"} if not text.strip() else {"text": text}
        for n, text in enumerate(texts, start=1)
    ]


def read_texts(path: Path, run_dir: str | Path) -> list[dict]:
    r"""Input records to predict from a ``.txt`` file (a text per line) or a table file.

    ``.txt``: record N is line N (``{"line": N, "text": ...}``). Lines end at ``\n``
    (or ``\r\n``) only, never at the other characters ``str.splitlines`` breaks on
    (form feed, U+2028, ...), which stay inside the text; the file's final newline
    starts no line. A blank line or one that is not UTF-8 is kept as a record with an
    ``error`` ("empty text", "not UTF-8 ..."), so outputs stay aligned with the lines.

    CSV / JSONL: ``{"row": N, "text": ...}``, N the 1-based data row (the header is not
    counted), from the run's text column; an empty cell is an ``error`` record.

    Raises:
        DataError: the file is missing or unreadable, or has no such column.
    """
    path = Path(path)
    if path.suffix == ".txt":
        return _read_text_lines(path)
    from tunelab.data import read_table
    from tunelab.tasks.text.evaluate import run_columns

    text_column, _ = run_columns(Path(run_dir), None, None)
    frame = read_table(str(path), where="--input")
    if text_column not in frame.columns:
        raise DataError(f"--input {path}: no column '{text_column}' (the run's text column)")
    return [
        _text_record("row", n, None if _missing(value) else str(value))
        for n, value in enumerate(frame[text_column].tolist(), start=1)
    ]


def _read_text_lines(path: Path) -> list[dict]:
    from tunelab.io import read_line_records

    return read_line_records(path, "text", "empty text", "pass an existing .txt/.csv/.jsonl")


def _text_record(position: str, n: int, text: str | None) -> dict:
    if text is None or not text.strip():
        return {position: n, "text": text or "", "error": "empty text"}
    return {position: n, "text": text}


def _missing(value) -> bool:
    """An empty table cell (None, NaN, pandas NA), as opposed to a value."""
    return pd.api.types.is_scalar(value) and bool(pd.isna(value))
