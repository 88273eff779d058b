"""Compute pooled backbone features once, and cache them in memory or on disk.

Feature extraction trains only the head, so the backbone's output for each example
never changes: computing it once turns every later epoch (and every search trial over
head settings) into a pass over a small tensor.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from tunelab.batching import FeatureBatches, TokenBatches


@torch.inference_mode()
def compute_features(
    model, batches: TokenBatches, batch_size: int, device: torch.device
) -> torch.Tensor:
    """Pooled embeddings of every example, in the original order."""
    was_training = model.training
    model.eval()
    out: torch.Tensor | None = None
    for indices in batches.eval_batches(batch_size):
        batch = batches.collate(indices)
        batch.pop("labels")
        pooled = model.encode(**{k: v.to(device) for k, v in batch.items()}).float().cpu()
        if out is None:
            out = torch.empty(len(batches), pooled.shape[1])
        out[torch.as_tensor(indices)] = pooled
    model.train(was_training)
    assert out is not None
    return out


def cache_key(model_path: Path, model_options: dict, texts: list[str]) -> str:
    """A hash of the model files' identity, pooling options and the exact texts."""
    digest = hashlib.sha256()
    weights = sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin"))
    for path in weights:
        stat = path.stat()
        digest.update(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    digest.update(json.dumps(model_options, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "replace") + b"\0")
    return digest.hexdigest()[:24]


def cached_features(
    model,
    batches: TokenBatches,
    key: str,
    cache_dir: Path | None,
    batch_size: int,
    device: torch.device,
    memory: dict[str, torch.Tensor] | None = None,
) -> FeatureBatches:
    """Features from the in-process ``memory`` cache, the disk cache, or a fresh pass."""
    features = None if memory is None else memory.get(key)
    disk_file = cache_dir / f"{key}.safetensors" if cache_dir else None
    if features is None and disk_file is not None and disk_file.is_file():
        features = load_file(str(disk_file))["features"]
    if features is None:
        features = compute_features(model, batches, batch_size, device)
        if disk_file is not None:
            _atomic_save(features, disk_file)
    if memory is not None:
        memory[key] = features
    return FeatureBatches(features, batches.labels)


def _atomic_save(features: torch.Tensor, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    save_file({"features": features.contiguous()}, tmp)
    os.replace(tmp, path)
