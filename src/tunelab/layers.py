"""Ordered layer groups of a model: the unit every strategy is expressed over.

A backbone is cut into groups, bottom to top: the parameters before the repeated blocks
(``embeddings``, or a CNN's ``stem``), one group per block (``layer.0`` ...), the
parameters after them (``final``: a last norm, a conv head), and the classification
``head``. Freezing, LR scales and unfreezing schedules are all data over this list, as
in timm's ``param_groups_layer_decay``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from torch import nn

from tunelab.errors import ModelError


@dataclass
class LayerGroup:
    """A named slice of the model: its parameters and the modules that own them."""

    name: str
    params: list[nn.Parameter] = field(default_factory=list)
    modules: list[nn.Module] = field(default_factory=list)

    @property
    def num_params(self) -> int:
        """Total number of scalars in the group."""
        return sum(p.numel() for p in self.params)

    @property
    def num_trainable(self) -> int:
        """Scalars that currently receive gradients."""
        return sum(p.numel() for p in self.params if p.requires_grad)

    def set_trainable(self, trainable: bool) -> None:
        """Turn gradients on or off for every parameter of the group."""
        for param in self.params:
            param.requires_grad_(trainable)


def find_block_list(backbone: nn.Module) -> nn.ModuleList | nn.Sequential:
    """The list of repeated blocks that holds most of the backbone's parameters.

    This finds ``encoder.layer`` (BERT, RoBERTa, MiniLM), ``transformer.layer``
    (DistilBERT), ``layers`` (Llama) or ``blocks`` (timm CNNs) without naming them.
    """
    best: nn.Module | None = None
    best_params = 0
    for module in backbone.modules():
        if isinstance(module, nn.ModuleList | nn.Sequential) and len(module) > 1:
            params = sum(p.numel() for p in module.parameters())
            if params > best_params:
                best, best_params = module, params
    if best is None:
        raise ModelError(f"{type(backbone).__name__}: no list of repeated layers found")
    return best  # type: ignore[return-value]


def backbone_layer_groups(
    backbone: nn.Module,
    bottom_name: str = "embeddings",
    block_name: str = "layer",
    top_name: str = "final",
) -> list[LayerGroup]:
    """Cut a backbone into ordered groups: bottom, one per block, top (if non-empty).

    Parameters before the first block (in registration order) form the bottom group, the
    rest the top group; modules are assigned to the group that owns all their parameters,
    so freezing a group can also put its dropout/BatchNorm modules in eval mode.
    """
    blocks = find_block_list(backbone)
    block_groups = [
        LayerGroup(f"{block_name}.{i}", list(block.parameters()), [block])
        for i, block in enumerate(blocks)
    ]
    in_blocks = {id(p) for p in blocks.parameters()}
    bottom, top = LayerGroup(bottom_name), LayerGroup(top_name)
    seen_block = False
    for param in backbone.parameters():
        if id(param) in in_blocks:
            seen_block = True
        else:
            (top if seen_block else bottom).params.append(param)
    for group in (bottom, top):
        group.modules = owning_modules(backbone, {id(p) for p in group.params})
    return [g for g in [bottom, *block_groups, top] if g.params]


def owning_modules(root: nn.Module, param_ids: set[int]) -> list[nn.Module]:
    """Highest modules whose parameters all belong to ``param_ids``."""
    owned: list[nn.Module] = []
    taken: list[str] = []
    for name, module in root.named_modules():
        if any(name.startswith(t + ".") for t in taken) or module is root:
            continue
        ids = {id(p) for p in module.parameters()}
        if ids and ids <= param_ids:
            owned.append(module)
            taken.append(name)
    return owned


def model_layer_groups(model: nn.Module) -> list[LayerGroup]:
    """Groups of a tunelab model: its backbone's groups, then ``head``.

    A model may return its whole list (``layer_groups()``, last group the head), or
    cut its backbone itself (``backbone_layer_groups()``, as the timm
    CNNs do from timm's own group matcher); otherwise the block list is found.
    """
    complete = getattr(model, "layer_groups", None)
    if complete is not None:  # e.g. a causal LM: its output side is its "head" group
        return complete()
    own = getattr(model, "backbone_layer_groups", None)
    groups = own() if own is not None else backbone_layer_groups(model.backbone)
    groups.append(LayerGroup("head", list(model.head.parameters()), [model.head]))
    return groups


def set_train_mode(model: nn.Module, groups: list[LayerGroup]) -> None:
    """``model.train()``, but frozen groups stay in eval mode.

    Frozen means frozen statistics too (timm's ``freeze``): dropout off and BatchNorm
    running stats untouched, so the frozen part is a deterministic function.
    BatchNorm layers whose own weights are frozen (frozen groups, LoRA's base model) keep
    their statistics too, unless the classifier sets ``freeze_bn = False``: then every
    BatchNorm layer re-estimates its statistics on the new data (AdaBN-style).
    """
    model.train()
    for group in groups:
        if group.num_trainable == 0:
            for module in group.modules:
                module.eval()
    freeze_bn = getattr(getattr(model, "module", model), "freeze_bn", True)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            weights = list(module.parameters(recurse=False))
            if weights and not any(p.requires_grad for p in weights):
                module.train(not freeze_bn)


def iter_named_params(model: nn.Module, groups: list[LayerGroup]) -> Iterator[tuple[str, str]]:
    """``(group name, parameter name)`` for every parameter, for tests and reports."""
    names = {id(p): n for n, p in model.named_parameters()}
    for group in groups:
        for param in group.params:
            yield group.name, names[id(param)]


def count_params(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


@contextlib.contextmanager
def modes_restored(model: nn.Module) -> Iterator[None]:
    """Every module's own train/eval flag is restored on exit, whatever ran inside."""
    modes = [(module, module.training) for module in model.modules()]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode inside; after, exactly the modules that were training train again.

    Cheaper than ``model.eval()`` + ``set_train_mode`` (two walks calling ``train()`` on
    every module): only modules in train mode flip, which matters for per-epoch
    validation of a head trained on cached features.
    """
    training = [module for module in model.modules() if module.training]
    for module in training:
        module.training = False
    try:
        yield
    finally:
        for module in training:
            module.training = True
