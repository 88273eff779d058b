"""Inference on audio: the trained classifier with its clip policy, frontend and labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.tasks.audio.decode import UNREADABLE, read_audio
from tunelab.tasks.audio.model import AudioFrontend
from tunelab.tasks.classification import Prediction, predictions


class AudioPredictor:
    """A trained audio classifier with its frontend and labels.

    ``predict`` takes file paths, ``(samples, sample_rate)`` pairs, or 1-D arrays already
    at the model's rate, one or a list; every input goes through the training clip
    policy (down-mix, resample, cut or pad) and the model's own feature extractor.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        frontend: AudioFrontend,
        labels: list[str],
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.frontend, self.labels = frontend, labels
        self.device = torch.device(device)

    def clip(self, item: Any) -> np.ndarray:
        """One input as a clip of the model's rate and length."""
        policy = self.frontend.policy
        if isinstance(item, str | Path):
            mono, rate, _ = read_audio(item)
        elif isinstance(item, tuple):
            samples, rate = item
            samples = np.asarray(samples, dtype=np.float32)
            mono = samples.mean(axis=1) if samples.ndim == 2 else samples
        else:
            mono, rate = np.asarray(item, dtype=np.float32), policy.sample_rate
        if mono.ndim != 1 or len(mono) == 0:
            raise ValueError(f"expected mono samples, got shape {mono.shape}")
        return policy.apply(mono, int(rate))[0]

    @torch.inference_mode()
    def probabilities(self, clips: list[np.ndarray]) -> torch.Tensor:
        """Class probabilities of ready clips."""
        features = self.frontend(clips).to(self.device)
        logits = self.model(**{self.frontend.input_name: features})
        return logits.float().softmax(-1).cpu()

    def predict_proba(self, audio: Any, batch_size: int = 32) -> torch.Tensor:
        """Class probabilities, one row per input, in input order."""
        items = as_audio_list(audio)
        out = torch.empty(len(items), len(self.labels))
        for start in range(0, len(items), batch_size):
            clips = [self.clip(x) for x in items[start : start + batch_size]]
            out[start : start + len(clips)] = self.probabilities(clips)
        return out

    def predict(self, audio: Any, batch_size: int = 32) -> list[Prediction]:
        """Predicted label and per-label probabilities for each input."""
        items = as_audio_list(audio)
        if not items:
            return []
        return predictions(self.labels, self.predict_proba(items, batch_size))

    def predict_records(self, records: Sequence[dict], batch_size: int = 32) -> list[dict]:
        """Each record (``{"audio": path, ...}``) with its prediction, in order.

        A missing or undecodable file costs only its own prediction: its record gets an
        ``error`` naming it. A record that already holds an ``error`` is kept.
        """
        out = [dict(record) for record in records]
        for start in range(0, len(out), batch_size):
            chunk = out[start : start + batch_size]
            ready = {}
            for i, record in enumerate(chunk):
                if "error" in record:
                    continue
                try:
                    ready[i] = self.clip(record["audio"])
                except UNREADABLE as err:
                    reason = " ".join(f"{err.__class__.__name__}: {err}".split())
                    record["error"] = f"cannot read audio '{record['audio']}' ({reason})"
            if ready:
                probs = self.probabilities(list(ready.values()))
                for i, prediction in zip(ready, predictions(self.labels, probs), strict=True):
                    chunk[i].update(prediction.to_dict())
        return out


def as_audio_list(audio: Any) -> list:
    """One input (path, ``(samples, rate)``, 1-D array) or many, as a list."""
    if isinstance(audio, str | Path | tuple):
        return [audio]
    if isinstance(audio, np.ndarray | torch.Tensor):
        return [np.asarray(audio)] if audio.ndim == 1 else [np.asarray(a) for a in audio]
    return list(audio)
