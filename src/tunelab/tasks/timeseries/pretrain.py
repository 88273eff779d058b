"""``tunelab pretrain`` for time series: masked-patch reconstruction -> an HF directory.

No time-series foundation model ships its weights in a package, so a backbone is built
from what does ship: the UCR/UEA sets in sktime / aeon (their ``_TRAIN.ts`` files only)
and statsmodels' series (without their last ``holdout_fraction``, where a forecasting
test window lies). Every channel is one univariate window of ``context_length`` points
(shorter series are resampled up to it, longer ones give several windows); 40% of the
patches are masked and the model learns to reconstruct them (transformers'
``PatchTSTForPretraining``). The result is a plain HF directory that ``model.name``
points to, loaded by the same path as any user's PatchTST checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from tunelab.tasks.timeseries.config import PretrainConfig
from tunelab.tasks.timeseries.readers import data_folders, parse_ts, statsmodels_frame
from tunelab.tasks.timeseries.series import fill_missing, resample

STATSMODELS_SERIES = ("co2", "macrodata", "nile", "sunspots", "elnino", "elec_equip")
MAX_WINDOWS_PER_SERIES = 4
MAX_WINDOWS_PER_SOURCE = 800  # no one collection (JapaneseVowels: 3,240) dominates


def ucr_train_series() -> dict[str, list[np.ndarray]]:
    """Every shipped ``<Name>_TRAIN.ts`` as univariate series (one per channel)."""
    found: dict[str, list[np.ndarray]] = {}
    for root in data_folders():
        for path in sorted(root.glob("*/*_TRAIN.ts")):
            name = path.stem.removesuffix("_TRAIN")
            if name in found:
                continue
            try:
                series, _ = parse_ts(path, "pretrain")
            except Exception:  # noqa: BLE001 - a file we cannot read is skipped, not fatal
                continue
            found[name] = [fill_missing(channel[None])[0][0] for s in series for channel in s]
    return found


def statsmodels_series(holdout: float) -> dict[str, list[np.ndarray]]:
    """Numeric columns of a few statsmodels data sets, their last ``holdout`` cut off."""
    found: dict[str, list[np.ndarray]] = {}
    for name in STATSMODELS_SERIES:
        try:
            frame = statsmodels_frame(name, "pretrain")
        except Exception:  # noqa: BLE001 - statsmodels missing or a set renamed
            continue
        columns = [c for c in frame.columns if c != "date" and frame[c].dtype.kind in "fi"]
        keep = int(len(frame) * (1 - holdout))
        found[name] = [
            fill_missing(frame[c].to_numpy(np.float32)[None, :keep])[0][0] for c in columns
        ]
    return found


def windows(series: list[np.ndarray], length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to :data:`MAX_WINDOWS_PER_SERIES` random windows of ``length`` per series;
    a shorter series is resampled to ``length``."""
    out = []
    for values in series:
        if len(values) < 2:
            continue
        if len(values) <= length:
            out.append(resample(values[None], length)[0])
            continue
        count = min(MAX_WINDOWS_PER_SERIES, math.ceil(len(values) / length))
        for start in rng.integers(0, len(values) - length + 1, size=count):
            out.append(values[start : start + length])
    return out


def collect_windows(settings: PretrainConfig) -> tuple[np.ndarray, dict[str, int]]:
    """``[N, context_length]`` windows from the chosen collections, and N per source."""
    rng = np.random.default_rng(settings.seed)
    sources: dict[str, list[np.ndarray]] = {}
    if "ucr" in settings.collections:
        sources.update(ucr_train_series())
    if "statsmodels" in settings.collections:
        sources.update(statsmodels_series(settings.holdout_fraction))
    per_source = {
        name: _at_most(windows(s, settings.context_length, rng), MAX_WINDOWS_PER_SOURCE, rng)
        for name, s in sources.items()
    }
    every = [w for ws in per_source.values() for w in ws]
    if not every:
        from tunelab.errors import DataError

        raise DataError(
            "pretrain: no series found; pip install --no-deps sktime==1.2.0 "
            "'scikit-base<1.2' (UCR/UEA sets) or statsmodels"
        )
    chosen = rng.permutation(len(every))[: settings.max_windows]
    return np.stack([every[i] for i in chosen]).astype(np.float32), {
        name: len(ws) for name, ws in per_source.items() if ws
    }


def _at_most(items: list, limit: int, rng: np.random.Generator) -> list:
    """A random ``limit`` of ``items`` (all of them when there are fewer)."""
    if len(items) <= limit:
        return items
    return [items[i] for i in sorted(rng.choice(len(items), size=limit, replace=False))]


def backbone_config(settings: PretrainConfig):
    """The HF config of the backbone to pre-train (random masking on)."""
    from transformers import PatchTSMixerConfig, PatchTSTConfig

    common = dict(
        num_input_channels=1,
        context_length=settings.context_length,
        patch_length=settings.patch_length,
        patch_stride=settings.patch_stride,
        d_model=settings.d_model,
        mask_type="random",
        random_mask_ratio=settings.mask_ratio,
        scaling="std",
    )
    if settings.architecture == "patchtsmixer":
        return PatchTSMixerConfig(
            **common, num_layers=settings.layers, dropout=settings.dropout, head_dropout=0.0
        )
    return PatchTSTConfig(
        **common,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        ffn_dim=settings.ffn_dim,
        dropout=settings.dropout,
        norm_type="layernorm",
        channel_attention=False,
        use_cls_token=False,
    )


def pretrain_backbone(settings: PretrainConfig, output_dir: Path, console: Console) -> Path:
    """Pre-train a backbone as ``settings`` say and save it into ``output_dir``.

    Writes the HF directory (``config.json``, ``model.safetensors``) and
    ``pretraining.json`` (settings, windows per source, loss per epoch, seconds).
    """
    from transformers import PatchTSMixerForPretraining, PatchTSTForPretraining

    started = time.perf_counter()
    data, per_source = collect_windows(settings)
    console.print(
        f"pretrain: {len(data):,} windows of {settings.context_length} points from "
        f"{len(per_source)} series collections; masked-patch reconstruction, "
        f"{settings.epochs} epochs"
    )
    torch.manual_seed(settings.seed)
    config = backbone_config(settings)
    cls = (
        PatchTSTForPretraining
        if settings.architecture == "patchtst"
        else PatchTSMixerForPretraining
    )
    model = cls(config)
    losses = _train(model, torch.from_numpy(data)[..., None], settings, console)
    model.save_pretrained(str(output_dir))
    record = {
        "settings": settings.model_dump(),
        "windows": len(data),
        "windows_per_source": per_source,
        "loss_per_epoch": losses,
        "seconds": round(time.perf_counter() - started, 1),
        "params": sum(p.numel() for p in model.parameters()),
    }
    (output_dir / "pretraining.json").write_text(json.dumps(record, indent=2))
    console.print(
        f"pretrain: masked-patch MSE {losses[0]:.3f} -> {losses[-1]:.3f} in "
        f"{record['seconds']:.0f}s"
    )
    return output_dir


def _train(model, data: torch.Tensor, settings: PretrainConfig, console: Console) -> list[float]:
    """AdamW with cosine decay; the mean masked-patch loss of each epoch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=0.01)
    steps = settings.epochs * math.ceil(len(data) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(settings.seed)
    losses = []
    model.train()
    for epoch in range(settings.epochs):
        total, batches = 0.0, 0
        for batch in torch.randperm(len(data), generator=generator).split(settings.batch_size):
            loss = model(past_values=data[batch], return_dict=True).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total, batches = total + loss.item(), batches + 1
        losses.append(total / batches)
        console.print(f"pretrain epoch {epoch + 1}: loss {losses[-1]:.4f}")
    return losses
