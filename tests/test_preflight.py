"""Settings that cannot run are refused before the run directory is written, so the
corrected command is not then refused as "holds another run" (issue 17 item 5)."""

from __future__ import annotations

import pytest

import tunelab
from tunelab.errors import ConfigError


def _refused_before_writing(config: dict, out, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        tunelab.fine_tune(config, out)
    assert not out.exists()


def test_device_precision_metric_and_prefix_cache_are_checked_first(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    cases = [
        ({"device": "cuda"}, {}, "train.device=cuda but no CUDA GPU"),
        ({"mixed_precision": "fp16"}, {}, "fp16 needs a GPU"),
        ({"early_stopping": {"metric": "bleu"}}, {}, "'bleu' is not a metric"),
        ({}, {"k": 3, "prefix_cache": "on"}, "prefix_cache=on: strategy 'top_k' freezes no"),
    ]
    for n, (train, strategy, match) in enumerate(cases):
        config = {
            **tiny_config,
            "train": {**tiny_config["train"], **train},
            "strategy": {**tiny_config["strategy"], **strategy},
        }
        _refused_before_writing(config, tmp_path / f"run{n}", match)


def test_prefix_cache_on_with_an_unsupported_model_is_refused_first(
    tiny_config, tmp_path, monkeypatch
):
    from tunelab.tasks.text.model import TextClassifier

    monkeypatch.setattr(TextClassifier, "resumable", property(lambda self: False))
    config = {**tiny_config, "strategy": {"name": "top_k", "k": 1, "prefix_cache": "on"}}
    _refused_before_writing(config, tmp_path / "run", "is not a supported encoder")
