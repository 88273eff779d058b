"""``tunelab predict`` on an image run with good and bad files: every good file is
predicted, each bad one (missing, zero bytes, truncated, not an image) is a record with
an ``error`` and one stderr line, and the exit code is 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import tunelab
from tests.conftest import TINY_CNN, write_scans
from tunelab.cli import app


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    return write_scans(tmp_path_factory.mktemp("scans"), per_class=8)


@pytest.fixture(scope="module")
def image_run(scans, tmp_path_factory):
    config = {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {"train": str(scans), "val_fraction": 0.25, "test_fraction": 0.25},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
    }
    return tunelab.fine_tune(config, tmp_path_factory.mktemp("image-run") / "run").run_dir


@pytest.fixture
def mixed_files(scans, tmp_path):
    """Two good scans and four bad files, in that interleaved order."""
    good = [str(scans / "lesion" / "003.png"), str(scans / "normal" / "004.png")]
    png = (scans / "lesion" / "005.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.png").write_text("not an image")
    bad = [
        str(tmp_path / n) for n in ("missing[red].png", "empty.png", "truncated.png", "notes.png")
    ]
    return [bad[0], good[0], bad[1], bad[2], good[1], bad[3]]


def test_predict_records_predicts_good_files_and_reports_bad_ones(image_run, mixed_files):
    predictor = tunelab.load(image_run)
    out = predictor.predict_records([{"image": p} for p in mixed_files], batch_size=4)
    assert [r["image"] for r in out] == mixed_files
    failed = [("error" in r) for r in out]
    assert failed == [True, False, True, True, False, True]
    expected = predictor.predict([mixed_files[1], mixed_files[4]])
    for record, prediction in zip([out[1], out[4]], expected, strict=True):
        assert record["label"] == prediction.label
        assert record["probabilities"] == pytest.approx(prediction.probabilities, abs=1e-5)
    assert out[0]["error"].startswith(f"cannot read image '{mixed_files[0]}' (FileNotFoundError")
    assert "UnidentifiedImageError" in out[2]["error"]  # zero bytes
    assert "truncated" in out[3]["error"]
    assert "UnidentifiedImageError" in out[5]["error"]
    assert all("\n" not in r.get("error", "") for r in out)


def test_cli_predict_reports_each_bad_file_and_exits_2(image_run, mixed_files, tmp_path):
    listing = tmp_path / "paths.txt"
    listing.write_text("\n".join([mixed_files[1], "", mixed_files[2]]) + "\n")
    args = ["predict", str(image_run), mixed_files[0], mixed_files[4], "--input", str(listing)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0] == {"image": mixed_files[0], "error": records[0]["error"]}
    assert set(records[1]) == {"image", "label", "probabilities"}
    assert records[2]["line"] == 1 and records[2]["label"] in {"lesion", "normal"}
    assert records[3] == {"line": 2, "image": "", "error": "empty path"}
    assert records[4]["line"] == 3 and "UnidentifiedImageError" in records[4]["error"]
    errors = result.stderr.splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    assert errors[0].startswith(f"error: cannot read image '{mixed_files[0]}'")
    assert errors[1] == f"error: --input {listing} line 2: empty path"
    assert errors[2].startswith(f"error: --input {listing} line 3: cannot read image")
    assert "Traceback" not in result.output


def test_cli_predict_of_good_files_exits_0(image_run, mixed_files):
    result = CliRunner().invoke(app, ["predict", str(image_run), mixed_files[1], mixed_files[4]])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["image"] for line in result.stdout.splitlines()] == [
        mixed_files[1],
        mixed_files[4],
    ]
