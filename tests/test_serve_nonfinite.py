"""``serve`` never answers NaN (invalid JSON): a diverged model's records carry null and
an error, as ``tunelab predict`` writes them (issue 16 item 8b); the server's console
warning names the run directory whole, brackets included (issue 17 item 7)."""

from __future__ import annotations

import json

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tests.conftest import train_tiny_text_run  # noqa: E402
from tunelab.serve import create_app  # noqa: E402


def _strict_json(text: str):
    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def nan_head_run(tiny_model_dir, tmp_path_factory):
    """A finished run whose saved classification head is all NaN, in ``runs[v2]/``."""
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("runs[v2]")
    run = train_tiny_text_run(tiny_model_dir, root)
    weights = run / "model" / "model.safetensors"
    tensors = load_file(str(weights))
    head = [k for k in tensors if "head" in k or "classifier" in k]
    assert head, sorted(tensors)
    for key in head:
        tensors[key] = tensors[key].float().fill_(float("nan"))
    save_file(tensors, str(weights))
    return run


def test_a_nan_model_is_answered_with_nulls_and_an_error(nan_head_run, capsys) -> None:
    client = TestClient(create_app(nan_head_run), raise_server_exceptions=False)
    response = client.post("/predict", json={"texts": ["pizza pasta", "wifi router"]})
    assert response.status_code == 200
    records = _strict_json(response.text)
    assert len(records) == 2
    for record in records:
        assert "model's output is not finite" in record["error"]
        assert set(record["probabilities"]) == {"food", "sport", "tech"}
        assert all(p is None for p in record["probabilities"].values())
    warning = capsys.readouterr().err
    assert f"2 of 2 predictions of {nan_head_run} are not finite" in warning
