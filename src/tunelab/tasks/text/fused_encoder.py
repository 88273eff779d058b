"""An inference-only twin of a BERT-family classifier on PyTorch's fused encoder kernel.

HF's BERT layer is a dozen small modules (three projections, two dense layers, two layer
norms, dropouts, an activation), each a Python call and a kernel launch. PyTorch's
``nn.TransformerEncoderLayer`` runs the same post-norm layer as one fused native op in
eval / ``inference_mode`` (and skips the padding of padded batches). With the weights
mapped one-to-one, the logits agree to float rounding; single-text latency on CPU drops
by about a fifth. The twin is built only for backbones it can map and is checked on a
sample input, otherwise ``fuse_for_inference`` returns None and the normal path is used.
"""

from __future__ import annotations

import torch
from torch import nn

from tunelab.tasks.text.model import TextClassifier, pool

CHECK_ATOL = 1e-4


class FusedClassifier(nn.Module):
    """Embeddings from the backbone itself, fused encoder layers, then pooling and head.

    It shares the classifier's tensors except q/k/v, packed into one projection: build
    it after training (it is a snapshot for inference).
    """

    def __init__(self, model: TextClassifier, layers: nn.ModuleList) -> None:
        super().__init__()
        self.model, self.layers = model, layers

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **inputs
    ) -> torch.Tensor:
        """Class logits, as ``TextClassifier.forward`` gives them."""
        hidden = self.model.hidden_before(0, input_ids, attention_mask, **inputs)
        padding = None if bool(attention_mask.all()) else attention_mask == 0
        for layer in self.layers:
            hidden = layer(hidden, src_key_padding_mask=padding)
        if padding is not None:  # padded rows of the fused op are not defined: zero them
            hidden = hidden.masked_fill(padding.unsqueeze(-1), 0.0)
        return self.model.head(pool(hidden, attention_mask, self.model.pooling))


def fuse_for_inference(model: TextClassifier) -> FusedClassifier | None:
    """The fused twin of ``model``, or None when its blocks cannot be mapped exactly."""
    if not getattr(model, "resumable", False):
        return None
    config = model.backbone.config
    try:
        layers = nn.ModuleList(_fused_layer(block, config) for block in model.blocks())
    except _Unmappable:
        return None
    fused = FusedClassifier(model, layers).eval()
    return fused if _agrees(model, fused) else None


class _Unmappable(Exception):
    """A block whose layout or options the fused layer does not have."""


def _fused_layer(block: nn.Module, config) -> nn.TransformerEncoderLayer:
    names = _bert_names(block) or _distilbert_names(block)
    activation = getattr(config, "hidden_act", getattr(config, "activation", None))
    absolute = getattr(config, "position_embedding_type", "absolute") == "absolute"
    if names is None or activation != "gelu" or not absolute:
        raise _Unmappable
    q, k, v, out, norm1, ffn1, ffn2, norm2 = (block.get_submodule(n) for n in names)
    heads = getattr(config, "num_attention_heads", getattr(config, "n_heads", 0))
    if norm1.eps != norm2.eps or heads % 2:  # the fused op needs both (else slow path)
        raise _Unmappable
    layer = nn.TransformerEncoderLayer(
        q.in_features,
        heads,
        ffn1.out_features,
        dropout=0.0,
        activation="gelu",
        layer_norm_eps=norm1.eps,
        batch_first=True,
        device=q.weight.device,
        dtype=q.weight.dtype,
    )
    attention = layer.self_attn
    attention.in_proj_weight = nn.Parameter(torch.cat([q.weight, k.weight, v.weight]).detach())
    attention.in_proj_bias = nn.Parameter(torch.cat([q.bias, k.bias, v.bias]).detach())
    attention.out_proj.weight, attention.out_proj.bias = out.weight, out.bias
    layer.norm1, layer.linear1, layer.linear2, layer.norm2 = norm1, ffn1, ffn2, norm2
    return layer.eval()


def _bert_names(block: nn.Module) -> tuple[str, ...] | None:
    names = (
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "attention.output.LayerNorm",
        "intermediate.dense",
        "output.dense",
        "output.LayerNorm",
    )
    return names if _has(block, names) else None


def _distilbert_names(block: nn.Module) -> tuple[str, ...] | None:
    names = (
        "attention.q_lin",
        "attention.k_lin",
        "attention.v_lin",
        "attention.out_lin",
        "sa_layer_norm",
        "ffn.lin1",
        "ffn.lin2",
        "output_layer_norm",
    )
    return names if _has(block, names) else None


def _has(block: nn.Module, names: tuple[str, ...]) -> bool:
    try:
        return all(block.get_submodule(name) is not None for name in names)
    except AttributeError:
        return False


@torch.inference_mode()
def _agrees(model: TextClassifier, fused: FusedClassifier) -> bool:
    """Same logits as the classifier on a padded two-sequence batch (eval mode)."""
    device = next(model.parameters()).device
    vocab = getattr(model.backbone.config, "vocab_size", 100)
    ids = torch.randint(5, min(vocab, 1000), (2, 9), device=device)
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    was_training = model.training
    model.eval()
    try:
        expected = model(input_ids=ids, attention_mask=mask)
        return bool(torch.allclose(fused(ids, mask), expected, atol=CHECK_ATOL, rtol=1e-3))
    except (RuntimeError, TypeError, ValueError):
        return False
    finally:
        model.train(was_training)
