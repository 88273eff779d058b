"""The classification head: optional L2 normalisation first, built from its config."""

from __future__ import annotations

import torch

from tunelab.models.head import ClassificationHead, L2Normalize
from tunelab.tasks.classification import HeadConfig


def test_a_normalising_head_ignores_the_length_of_its_input():
    torch.manual_seed(0)
    head = ClassificationHead(8, 3, normalize=True).eval()
    x = torch.randn(5, 8)
    assert isinstance(head.normalize, L2Normalize)
    assert torch.allclose(head(x), head(7.5 * x), atol=1e-6)


def test_a_plain_head_reads_the_length():
    torch.manual_seed(0)
    head = ClassificationHead(8, 3).eval()
    x = torch.randn(5, 8)
    assert not any(isinstance(m, L2Normalize) for m in head.modules())
    assert not torch.allclose(head(x), head(7.5 * x), atol=1e-3)


def test_from_config_builds_what_the_section_says():
    cfg = HeadConfig(hidden_sizes=[6], dropout=0.2, activation="tanh", normalize=True)
    head = ClassificationHead.from_config(8, 3, cfg)
    kinds = [type(m).__name__ for m in (head.normalize, *head.net)]
    assert kinds == ["L2Normalize", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert head.net[0].p == 0.2 and head.net[1].out_features == 6


def test_normalising_or_not_the_weights_keep_their_names():
    """A continual update may start a plain head from a normalising one's weights."""
    plain, normalising = ClassificationHead(8, 3), ClassificationHead(8, 3, normalize=True)
    assert plain.state_dict().keys() == normalising.state_dict().keys()


def test_a_saved_card_without_the_key_loads_as_before():
    """Model cards written before ``normalize`` existed rebuild a plain head."""
    card = {"hidden_sizes": [], "dropout": 0.1, "activation": "gelu"}
    head = ClassificationHead.from_config(8, 3, HeadConfig(**card))
    assert isinstance(head.normalize, torch.nn.Identity)
