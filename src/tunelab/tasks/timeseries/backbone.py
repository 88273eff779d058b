"""Patch-transformer backbones: a local HF PatchTST / PatchTSMixer directory, loaded
through the path a user's own checkpoint takes, or the one ``tunelab pretrain`` builds.

No time-series foundation model ships its weights in a package, so the default
backbone (:data:`DEFAULT_BACKBONE`) is pre-trained here, once, by masked-patch
reconstruction on the collections that do ship (see :mod:`.pretrain`), and cached under
``$TUNELAB_CACHE/timeseries`` (default ``~/.cache/tunelab/timeseries``) like the causal-LM
task's de-quantised checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import nn

from tunelab.errors import ModelError
from tunelab.tasks.timeseries.config import DEFAULT_BACKBONE, PretrainConfig

ARCHITECTURES = ("patchtst", "patchtsmixer")
CONFIG_FILE = "config.json"
# The same cached backbone, listed once per task by ``tunelab models``.
KNOWN_NAMES = {
    DEFAULT_BACKBONE: "timeseries_classification",
    f"{DEFAULT_BACKBONE}-forecasting": "forecasting",
    f"{DEFAULT_BACKBONE}-anomaly": "anomaly_detection",
}


def register_known_backbones() -> None:
    """List the default backbone under each time-series task (``tunelab models``)."""
    from tunelab.models.registry import ModelSpec, register_model

    for name, task in KNOWN_NAMES.items():
        register_model(
            ModelSpec(
                name=name,
                task=task,
                family="patchtst",
                locate=ensure_default_backbone,
                params=103_504,  # with its masked-patch head, as pretraining.json counts
                description="PatchTST, 3 layers, d_model 64, context 128, pre-trained here "
                "on first use by masked-patch reconstruction (UCR/UEA _TRAIN sets, "
                "statsmodels series) and cached",
                install_hint="pip install statsmodels; pip install --no-deps sktime==1.2.0 "
                "'scikit-base<1.2'",
            )
        )


def cache_root() -> Path:
    """Where pre-trained backbones are kept (``$TUNELAB_CACHE/timeseries`` if set)."""
    base = os.environ.get("TUNELAB_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "tunelab"
    return root / "timeseries"


def default_backbone_dir(settings: PretrainConfig | None = None) -> Path:
    """The cache folder of the default backbone: a hash of its pre-training settings
    and of the collections installed (aeon adds sets to sktime's)."""
    from tunelab.tasks.timeseries.readers import data_folders

    settings = settings or PretrainConfig()
    found = sorted(p.name for root in data_folders() for p in root.glob("*/*_TRAIN.ts"))
    identity = {"settings": settings.model_dump(), "collections": found}
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    return cache_root() / f"{DEFAULT_BACKBONE}-{key.hexdigest()[:12]}"


def backbone_path(name: str, console: Console | None = None) -> Path:
    """The local backbone directory for ``model.name``.

    The default name is built on first use (about a minute on 2 cores) and cached.

    Raises:
        ModelError: neither the default name nor a directory holding a PatchTST /
            PatchTSMixer ``config.json``.
    """
    if name in KNOWN_NAMES:
        return ensure_default_backbone(console)
    path = Path(name).expanduser()
    if not (path / CONFIG_FILE).is_file():
        raise ModelError(
            f"model.name '{name}': not a model directory with {CONFIG_FILE}; give a local "
            f"PatchTST/PatchTSMixer directory, one `tunelab pretrain` wrote, or "
            f"{DEFAULT_BACKBONE}"
        )
    architecture(path)
    return path


def ensure_default_backbone(console: Console | None = None) -> Path:
    """The cached default backbone, pre-trained now if it is not there yet."""
    from tunelab.io import replace_dir
    from tunelab.tasks.timeseries.pretrain import pretrain_backbone

    target = default_backbone_dir()
    if (target / "model.safetensors").is_file():
        return target
    console = console or Console(stderr=True)
    console.print(
        f"building {DEFAULT_BACKBONE} once (masked-patch pre-training on the shipped "
        f"collections); cached in {target}"
    )
    replace_dir(target, lambda tmp: pretrain_backbone(PretrainConfig(), tmp, console))
    return target


def architecture(path: Path) -> str:
    """``patchtst`` or ``patchtsmixer``, from the directory's ``config.json``.

    Raises:
        ModelError: another model type, or an unreadable config.
    """
    try:
        model_type = json.loads((path / CONFIG_FILE).read_text()).get("model_type")
    except (OSError, json.JSONDecodeError):
        raise ModelError(f"{path / CONFIG_FILE}: not a readable JSON model config") from None
    if model_type not in ARCHITECTURES:
        raise ModelError(
            f"{path}: model type '{model_type}' is not a time-series backbone; "
            f"give a {' or '.join(ARCHITECTURES)} directory"
        )
    return model_type


def load_backbone(path: Path, pretrained: bool, channels: int) -> nn.Module:
    """The bare encoder (``PatchTSTModel`` / ``PatchTSMixerModel``) of ``path``.

    Any checkpoint of the family loads (a pre-training, prediction or classification
    model; the encoder's weights are taken, its head is not). ``pretrained: false``
    keeps the architecture and draws new weights. Masking, which a pre-training config
    switches on, is switched off.
    """
    from transformers import AutoConfig, PatchTSMixerModel, PatchTSTModel

    config = AutoConfig.from_pretrained(str(path), trust_remote_code=False)
    config.num_input_channels = channels
    config.do_mask_input = False
    cls = PatchTSTModel if architecture(path) == "patchtst" else PatchTSMixerModel
    if not pretrained:
        return cls(config)
    from transformers.utils import logging

    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()  # "some weights not used": the checkpoint's own head
    logging.disable_progress_bar()
    try:
        return cls.from_pretrained(str(path), config=config)
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def context_length(path: Path) -> int:
    """The number of points the backbone reads."""
    return int(json.loads((path / CONFIG_FILE).read_text())["context_length"])


def encoder_output(backbone: nn.Module, past_values: torch.Tensor, observed=None):
    """``(hidden [B, C, patches, d_model], loc [B, 1, C], scale [B, 1, C])``."""
    out = backbone(past_values=past_values, past_observed_mask=observed, return_dict=True)
    return out.last_hidden_state, out.loc, out.scale


def lora_targets(backbone: nn.Module) -> list[str]:
    """Default LoRA targets: the attention projections, else every linear layer in the
    repeated blocks (a PatchTSMixer has no attention)."""
    from tunelab.layers import find_block_list

    names = [n for n, m in find_block_list(backbone).named_modules() if isinstance(m, nn.Linear)]
    attention = sorted({n.rsplit(".", 1)[-1] for n in names if n.endswith(("q_proj", "v_proj"))})
    if attention:
        return attention
    return sorted({n.rsplit(".", 1)[-1] for n in names})


def features_key(cfg: Any, built: Any, inputs: np.ndarray) -> str:
    """The cached-feature key of ``inputs``: it changes when the backbone's weights file,
    its random init (``pretrained: false`` draws by ``train.seed``) or the inputs do."""
    digest = hashlib.sha256()
    if built.source is not None:
        stat = (built.source / "model.safetensors").stat()
        digest.update(f"{built.source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    options = {"model": cfg.model.name, "pretrained": cfg.model.pretrained,
               "seed": None if cfg.model.pretrained else cfg.train.seed}  # fmt: skip
    digest.update(json.dumps(options, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(inputs).tobytes())
    return digest.hexdigest()[:24]
