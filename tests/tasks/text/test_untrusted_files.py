"""Model folders and checkpoints from someone else: their code never runs.

A config.json ``auto_map`` names Python files in the folder; a pickled ``.bin`` / ``.pt``
can call any function while it loads. Both are refused with one line saying what to do,
even when stdin would answer "y" to transformers' "run the custom code?" prompt.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from tunelab.checkpoint import WEIGHTS, load_training_state, save_training_state
from tunelab.errors import ModelError, RunDirError
from tunelab.tasks.text.model import load_backbone, load_tokenizer


class _RunsShell:
    """Unpickling this calls ``os.system``: what a malicious weights file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def marker(tmp_path) -> Path:
    """A file only the hostile code would create."""
    return tmp_path / "code-ran"


@pytest.fixture
def stdin_says_yes(monkeypatch):
    """Answer "y" to any prompt, as a user pressing a key too fast would."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n" * 10))


def _folder_with_custom_code(tiny_model_dir: Path, tmp_path: Path, marker: Path, model_type):
    """A copy of the tiny BERT whose config.json maps its classes to a local evil.py."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import BertConfig, BertModel\n"
        "class EvilConfig(BertConfig):\n    model_type = 'evil-bert'\n"
        "class EvilModel(BertModel):\n    config_class = EvilConfig\n"
    )
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    config["model_type"] = model_type
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_auto_map_on_a_known_model_type_loads_the_standard_class(
    tiny_model_dir, tmp_path, marker, stdin_says_yes
):
    folder = _folder_with_custom_code(tiny_model_dir, tmp_path, marker, "bert")
    backbone = load_backbone(folder)
    load_backbone(folder, pretrained=False)
    load_tokenizer(folder)
    assert type(backbone).__name__ == "BertModel"
    assert not marker.exists()


@pytest.mark.parametrize("pretrained", [True, False])
def test_auto_map_needing_the_folders_code_is_one_model_error(
    tiny_model_dir, tmp_path, marker, stdin_says_yes, pretrained
):
    folder = _folder_with_custom_code(tiny_model_dir, tmp_path, marker, "evil-bert")
    with pytest.raises(ModelError) as caught:
        load_backbone(folder, pretrained=pretrained)
    assert str(caught.value) == (
        f"{folder}: its auto_map (AutoConfig, AutoModel) needs Python code from the folder, "
        "which tunelab does not run; use a model of a type transformers ships, or opt in "
        "to trust_remote_code only for a folder you trust"
    )
    assert not marker.exists()


def test_pickled_weights_that_would_run_code_are_refused_naming_the_file(
    tiny_model_dir, tmp_path, marker
):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    torch.save(
        {"embeddings.word_embeddings.weight": _RunsShell(marker)}, folder / "pytorch_model.bin"
    )
    with pytest.raises(ModelError) as caught:
        load_backbone(folder)
    assert re.fullmatch(  # the refused call in brackets, named as torch names it
        re.escape(f"{folder}: refused to unpickle pytorch_model.bin: it holds objects other ")
        + r"than tensors, which could run code \(.*\bsystem\b.*\); use a model saved as "
        + re.escape("safetensors (save_pretrained(..., safe_serialization=True))"),
        str(caught.value),
    )
    assert not marker.exists()


def test_checkpoint_state_that_would_run_code_is_refused_naming_the_file(tmp_path, marker):
    directory = tmp_path / "checkpoints" / "last"
    save_training_state(directory, {"w": torch.zeros(2)}, {"step": 3})
    torch.save({"step": _RunsShell(marker)}, directory / "trainer_state.pt")
    with pytest.raises(RunDirError) as caught:
        load_training_state(directory)
    assert re.fullmatch(
        re.escape(f"{directory / 'trainer_state.pt'}: refused to load: it holds objects ")
        + r"other than tensors and plain values, which could run code \(.*\bsystem\b.*\); "
        + re.escape(
            "delete this checkpoint and run without --resume (tunelab writes weights as "
            "safetensors and plain state)"
        ),
        str(caught.value),
    )
    assert not marker.exists()


def test_truncated_checkpoint_state_is_one_line(tmp_path):
    directory = tmp_path / "checkpoints" / "last"
    save_training_state(directory, {"w": torch.zeros(2)}, {"step": 3})
    state = directory / "trainer_state.pt"
    state.write_bytes(state.read_bytes()[:40])
    with pytest.raises(RunDirError, match=r"trainer_state\.pt: not a readable checkpoint \("):
        load_training_state(directory)
    assert (directory / WEIGHTS).is_file()


def test_checkpoint_round_trip_still_loads(tmp_path):
    directory = tmp_path / "checkpoints" / "last"
    save_training_state(directory, {"w": torch.ones(2)}, {"step": 3, "lr": [0.1]})
    weights, state = load_training_state(directory)
    assert state == {"step": 3, "lr": [0.1]}
    assert weights["w"].tolist() == [1.0, 1.0]
