"""``tunelab models`` and ``tunelab layers`` in-process."""

from __future__ import annotations

from typer.testing import CliRunner

from tunelab.cli import app

runner = CliRunner()


def test_models_and_layers(tiny_model_dir):
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "all-MiniLM-L6-v2" in result.output
    result = runner.invoke(app, ["layers", str(tiny_model_dir)])
    assert result.exit_code == 0
    for name in ("embeddings", "layer.0", "layer.1", "head"):
        assert name in result.output
