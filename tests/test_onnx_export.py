"""ONNX export: the file ONNX Runtime runs gives the run's own probabilities."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
from typer.testing import CliRunner

import tunelab
from tests.conftest import train_tiny_text_run
from tunelab.cli import app
from tunelab.errors import TunelabError
from tunelab.onnx_export import export_onnx


@pytest.fixture(scope="module")
def text_run(tiny_model_dir, tmp_path_factory):
    # LoRA: the adapter must be merged into the exported graph
    root = tmp_path_factory.mktemp("onnx-text")
    return train_tiny_text_run(tiny_model_dir, root, strategy="lora", max_steps=3)


def test_text_export_matches_the_predictor_on_a_new_batch_shape(text_run):
    result = export_onnx(text_run)
    assert result.path == text_run / "model" / "model.onnx" and result.max_abs_diff < 1e-4
    predictor = tunelab.load(text_run)
    texts = ["pizza pasta and cheese with my team today", "wifi", "a b c d e f g h i j k"]
    batch = predictor.tokenizer(texts, padding=True, return_tensors="np")
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    (logits,) = session.run(None, {name: batch[name] for name in names})
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = predictor.predict_proba(texts).numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_a_normalising_head_exports(tiny_model_dir, tmp_path):
    """contrastive's head L2-normalises its input; the graph must do it too."""
    run = train_tiny_text_run(tiny_model_dir, tmp_path, strategy="contrastive")
    assert type(tunelab.load(run).model.head.normalize).__name__ == "L2Normalize"
    assert export_onnx(run).max_abs_diff < 1e-4


def test_image_export_matches_pytorch(image_config, tmp_path):
    run = tunelab.fine_tune(
        {**image_config, "train": {**image_config["train"], "epochs": 1}}, tmp_path / "run"
    ).run_dir
    result = export_onnx(run, tmp_path / "cnn.onnx")
    assert result.inputs == ["pixel_values"] and result.max_abs_diff < 1e-4


def test_a_failed_check_writes_nothing(text_run, tmp_path):
    target = tmp_path / "m.onnx"
    with pytest.raises(TunelabError, match="differ from PyTorch's"):
        export_onnx(text_run, target, tolerance=-1.0)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_missing_onnx_packages_name_the_extra(text_run, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import fails as if not installed
    with pytest.raises(TunelabError, match=r"tunelab\[onnx\]"):
        export_onnx(text_run)


def test_cli_export_prints_the_file_and_the_check(text_run, tmp_path):
    target = tmp_path / "cli.onnx"
    result = CliRunner().invoke(app, ["export", str(text_run), "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert str(target) in result.output and "max probability difference" in result.output
    assert target.stat().st_size > 0
