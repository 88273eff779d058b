"""Two processes under torchrun (gloo on CPU) train like one process with the same
global batch, and only rank 0 writes the run directory and prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.conftest import make_texts

BIN = Path(sys.executable).parent


def _tiny_encoder_without_dropout(path: Path) -> Path:
    """Dropout off: the two processes draw different dropout masks than one would."""
    from tests.conftest import _vocab, save_tiny_bert

    return save_tiny_bert(path, _vocab(), dropout=0.0)


def _config(root: Path, batch_size: int) -> Path:
    make_texts(40).to_csv(root / "train.csv", index=False)
    config = {
        "model": {
            "name": str(_tiny_encoder_without_dropout(root / "tiny")),
            "max_length": 32,
            "head": {"dropout": 0.0},
        },
        "data": {"train": str(root / "train.csv"), "val_fraction": 0.2, "test_fraction": 0.2},
        "strategy": {"name": "full"},
        "train": {
            "epochs": 2,
            "batch_size": batch_size,
            "seed": 0,
            "device": "cpu",
            "early_stopping": {"enabled": False},
            # Plain shuffled batches: rank r takes batches r, r+2, ..., so global batch k
            # of the two processes holds the examples of batch k of one process.
            "group_by_length": False,
        },
    }
    path = root / f"config-{batch_size}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.skipif(not (BIN / "torchrun").exists(), reason="torchrun not installed")
def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    if not torch.distributed.is_gloo_available():
        pytest.skip("torch was built without gloo")
    tunelab = str(BIN / "tunelab")
    single = _run([tunelab, "run", str(_config(tmp_path, 8)), "-o", "one"], tmp_path)
    double = _run(
        [str(BIN / "torchrun"), "--nproc_per_node", "2", "--no-python", tunelab, "run",
         str(_config(tmp_path, 4)), "-o", "two"],
        tmp_path,
    )  # fmt: skip

    assert single.stdout.count("run directory:") == 1
    assert double.stdout.count("run directory:") == 1  # rank 1 printed nothing
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("tunelab-rank1-*"))
    one = load_file(tmp_path / "one" / "model" / "model.safetensors")
    two = load_file(tmp_path / "two" / "model" / "model.safetensors")
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-4), name
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["one", "tiny", "two"]


def test_a_worker_process_writes_nothing_to_the_run_directory(tmp_path, monkeypatch, tiny_config):
    import tunelab

    monkeypatch.setenv("RANK", "1")
    result = tunelab.fine_tune(
        {**tiny_config, "train": {**tiny_config["train"], "max_steps": 1}}, tmp_path / "run"
    )
    assert result.run_dir == tmp_path / "run" and not result.run_dir.exists()
    assert "test" in result.metrics
    shutil.rmtree(tmp_path, ignore_errors=True)
